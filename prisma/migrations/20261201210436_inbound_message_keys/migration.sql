-- AlterTable
-- Nullable without a default: Postgres adds it without rewriting the partitions. Inbound rows
-- stored from now on carry the provider's timestamp here; their created_at is the receive time.
ALTER TABLE "messages" ADD COLUMN     "sent_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "inbound_message_keys" (
    "tenant_id" UUID NOT NULL,
    "channel" "channel_type" NOT NULL,
    "external_message_id" TEXT NOT NULL,
    "message_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "inbound_message_keys_pkey" PRIMARY KEY ("tenant_id","channel","external_message_id")
);

-- [raw] Backfill: the keys of the inbound messages a redelivery could still repeat, so that the
-- store step, which from now on dedupes by this table alone, keeps recognising them. Until now an
-- inbound row's created_at was the provider's timestamp, so "within Meta's redelivery horizon"
-- (7 days, plus a day) is a created_at range: Postgres reads only the partitions it covers (and
-- the default one), which keeps the lock the ALTER above holds on messages short on a populated
-- table. A key keeps its row's created_at, so a store step retried across the upgrade finds its
-- own row. The earliest row of a provider id wins (unique (tenant, channel, id, created_at) let
-- a message whose timestamp differed between deliveries in twice). Rows whose provider
-- timestamp claimed more than 8 days in the past get no key: only a forged delivery says that.
INSERT INTO "inbound_message_keys" ("tenant_id", "channel", "external_message_id", "message_id", "created_at")
SELECT DISTINCT ON ("tenant_id", "channel", "external_message_id")
       "tenant_id", "channel", "external_message_id", "id", "created_at"
FROM "messages"
WHERE "direction" = 'inbound' AND "external_message_id" IS NOT NULL AND "created_at" >= now() - interval '8 days'
ORDER BY "tenant_id", "channel", "external_message_id", "created_at", "id";

-- CreateIndex
CREATE INDEX "inbound_message_keys_created_at_idx" ON "inbound_message_keys"("created_at");

-- AddForeignKey
ALTER TABLE "inbound_message_keys" ADD CONSTRAINT "inbound_message_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
