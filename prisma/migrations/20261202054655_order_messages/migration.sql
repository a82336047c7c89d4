-- AlterEnum
ALTER TYPE "message_type" ADD VALUE 'order';
