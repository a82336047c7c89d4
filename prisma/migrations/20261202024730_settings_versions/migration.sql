-- CreateEnum
CREATE TYPE "settings_author_kind" AS ENUM ('api_key', 'user', 'platform');

-- CreateTable
CREATE TABLE "settings_versions" (
    "tenant_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "settings" JSONB NOT NULL,
    "author_kind" "settings_author_kind" NOT NULL,
    "author_id" UUID,
    "author_name" TEXT,
    "restored_from" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "settings_versions_pkey" PRIMARY KEY ("tenant_id","version")
);

-- AddForeignKey
ALTER TABLE "settings_versions" ADD CONSTRAINT "settings_versions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
