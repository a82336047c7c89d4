-- AlterEnum
ALTER TYPE "channel_type" ADD VALUE 'instagram';

-- AlterTable
ALTER TABLE "channels" ADD COLUMN     "instagram_account_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "channels_type_instagram_account_id_key" ON "channels"("type", "instagram_account_id");
