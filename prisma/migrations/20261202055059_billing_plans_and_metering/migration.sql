-- CreateTable
CREATE TABLE "plans" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "is_default" BOOLEAN NOT NULL DEFAULT false,
    "monthly_messages" INTEGER,
    "max_documents" INTEGER,
    "max_chunks" INTEGER,
    "max_seats" INTEGER,
    "max_channels" INTEGER,
    "monthly_model_spend_usd" DECIMAL(14,6),
    "features" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "sort_order" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "billing_accounts" (
    "tenant_id" UUID NOT NULL,
    "plan_id" TEXT NOT NULL,
    "stripe_customer_id" TEXT,
    "stripe_subscription_id" TEXT,
    "subscription_status" TEXT,
    "current_period_end" TIMESTAMPTZ(3),
    "stripe_event_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "billing_accounts_pkey" PRIMARY KEY ("tenant_id")
);

-- CreateTable
CREATE TABLE "plan_changes" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "from_plan_id" TEXT NOT NULL,
    "to_plan_id" TEXT NOT NULL,
    "actor_kind" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "reason" TEXT,
    "request_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "plan_changes_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "meter_events" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "meter" TEXT NOT NULL,
    "provider" TEXT,
    "model" TEXT,
    "channel" TEXT,
    "quantity" BIGINT NOT NULL,
    "cost_usd" DECIMAL(14,6) NOT NULL DEFAULT 0,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "period" DATE NOT NULL,
    "reported_at" TIMESTAMPTZ(3),

    CONSTRAINT "meter_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stripe_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "processed_at" TIMESTAMPTZ(3),

    CONSTRAINT "stripe_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "billing_accounts_stripe_customer_id_key" ON "billing_accounts"("stripe_customer_id");

-- CreateIndex
CREATE INDEX "plan_changes_tenant_id_created_at_idx" ON "plan_changes"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "meter_events_tenant_id_period_meter_idx" ON "meter_events"("tenant_id", "period", "meter");

-- CreateIndex
CREATE UNIQUE INDEX "meter_events_tenant_id_key_key" ON "meter_events"("tenant_id", "key");

-- AddForeignKey
ALTER TABLE "billing_accounts" ADD CONSTRAINT "billing_accounts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "billing_accounts" ADD CONSTRAINT "billing_accounts_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "plan_changes" ADD CONSTRAINT "plan_changes_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "meter_events" ADD CONSTRAINT "meter_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- [raw] One default plan at most.
CREATE UNIQUE INDEX "plans_one_default" ON "plans"("is_default") WHERE "is_default";

-- [raw] Meter events not yet reported to Stripe, oldest first (the usage report reads them).
CREATE INDEX "meter_events_unreported_idx" ON "meter_events"("occurred_at") WHERE "reported_at" IS NULL;

-- [raw] The plans. The default plan limits nothing but documents and chunks, which come from
-- DOCUMENT_QUOTA_PER_TENANT and CHUNK_QUOTA_PER_TENANT (its nulls): a platform without billing
-- behaves as before. Operators change figures with UPDATE; they apply at the next check.
INSERT INTO "plans" ("id", "name", "is_default", "monthly_messages", "max_documents", "max_chunks", "max_seats", "max_channels", "monthly_model_spend_usd", "features", "sort_order") VALUES
  ('default',  'Default',  true,  NULL,    NULL,  NULL,     NULL, NULL, NULL, ARRAY['webchat', 'whatsapp', 'messenger', 'instagram', 'documents', 'functions', 'webhooks'], 0),
  ('starter',  'Starter',  false, 2000,    100,   20000,    3,    2,    20,   ARRAY['webchat', 'whatsapp', 'messenger', 'instagram', 'documents'], 1),
  ('pro',      'Pro',      false, 20000,   2000,  500000,   10,   10,   200,  ARRAY['webchat', 'whatsapp', 'messenger', 'instagram', 'documents', 'functions', 'webhooks'], 2),
  ('business', 'Business', false, 200000,  20000, 5000000,  50,   50,   2000, ARRAY['webchat', 'whatsapp', 'messenger', 'instagram', 'documents', 'functions', 'webhooks', 'llm_credentials'], 3);

-- [raw] Messages and document versions are metered by the insert that stores them: a message is
-- stored once (its dedupe keys), so it is metered once, whichever path stored it. The trigger on
-- the partitioned parent applies to every partition, present and future.
CREATE FUNCTION "meter_message"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "meter_events" ("tenant_id", "key", "meter", "channel", "quantity", "occurred_at", "period")
  VALUES (NEW."tenant_id", 'message:' || NEW."id", 'messages', NEW."channel"::text, 1, NEW."created_at",
          date_trunc('month', NEW."created_at" AT TIME ZONE 'UTC')::date)
  ON CONFLICT ("tenant_id", "key") DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER "messages_meter" AFTER INSERT ON "messages" FOR EACH ROW EXECUTE FUNCTION "meter_message"();

CREATE FUNCTION "meter_document_version"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "meter_events" ("tenant_id", "key", "meter", "quantity", "occurred_at", "period")
  VALUES (NEW."tenant_id", 'document:' || NEW."id", 'storage_bytes', NEW."size_bytes", NEW."created_at",
          date_trunc('month', NEW."created_at" AT TIME ZONE 'UTC')::date)
  ON CONFLICT ("tenant_id", "key") DO NOTHING;
  RETURN NULL;
END $$;
CREATE TRIGGER "documents_meter" AFTER INSERT ON "documents" FOR EACH ROW EXECUTE FUNCTION "meter_document_version"();
