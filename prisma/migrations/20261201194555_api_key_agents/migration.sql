-- AlterTable
ALTER TABLE "api_keys" ADD COLUMN     "agent_id" TEXT;
