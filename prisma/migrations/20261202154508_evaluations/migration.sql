-- CreateEnum
CREATE TYPE "evaluation_run_status" AS ENUM ('running', 'finished', 'failed');

-- CreateEnum
CREATE TYPE "evaluation_trigger" AS ENUM ('manual', 'settings_changed', 'documents_changed');

-- CreateTable
CREATE TABLE "evaluation_cases" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "tenant_id" UUID NOT NULL,
    "question" TEXT NOT NULL,
    "expected_facts" TEXT[],
    "expect_refusal" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluation_cases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evaluation_runs" (
    "id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "status" "evaluation_run_status" NOT NULL DEFAULT 'running',
    "trigger" "evaluation_trigger" NOT NULL,
    "settings_version" INTEGER NOT NULL,
    "previous_run_id" UUID,
    "error" TEXT,
    "cases_total" INTEGER NOT NULL DEFAULT 0,
    "cases_passed" INTEGER NOT NULL DEFAULT 0,
    "groundedness" DOUBLE PRECISION,
    "citation_correctness" DOUBLE PRECISION,
    "refusal_accuracy" DOUBLE PRECISION,
    "latency_ms_avg" INTEGER,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "regressions" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "evaluation_runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "evaluation_results" (
    "run_id" UUID NOT NULL,
    "case_id" UUID NOT NULL,
    "tenant_id" UUID NOT NULL,
    "question" TEXT NOT NULL,
    "expected_facts" TEXT[],
    "expect_refusal" BOOLEAN NOT NULL,
    "outcome" TEXT NOT NULL,
    "answer" TEXT NOT NULL,
    "cited_passages" JSONB NOT NULL,
    "declined" BOOLEAN NOT NULL,
    "passed" BOOLEAN NOT NULL,
    "groundedness" DOUBLE PRECISION,
    "citation_correctness" DOUBLE PRECISION,
    "refusal_correct" BOOLEAN NOT NULL,
    "latency_ms" INTEGER NOT NULL,
    "prompt_tokens" INTEGER NOT NULL DEFAULT 0,
    "completion_tokens" INTEGER NOT NULL DEFAULT 0,
    "cost_usd" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "regressed" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "evaluation_results_pkey" PRIMARY KEY ("run_id","case_id")
);

-- CreateIndex
CREATE INDEX "evaluation_cases_tenant_id_created_at_idx" ON "evaluation_cases"("tenant_id", "created_at");

-- CreateIndex
CREATE INDEX "evaluation_runs_tenant_id_started_at_idx" ON "evaluation_runs"("tenant_id", "started_at");

-- CreateIndex
CREATE INDEX "evaluation_results_tenant_id_idx" ON "evaluation_results"("tenant_id");

-- AddForeignKey
ALTER TABLE "evaluation_cases" ADD CONSTRAINT "evaluation_cases_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_runs" ADD CONSTRAINT "evaluation_runs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_results" ADD CONSTRAINT "evaluation_results_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "evaluation_results" ADD CONSTRAINT "evaluation_results_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "evaluation_runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- [raw] At most one running evaluation per tenant: a second start fails on this index (409).
CREATE UNIQUE INDEX "evaluation_runs_one_running" ON "evaluation_runs" ("tenant_id") WHERE "status" = 'running';

-- [raw] A case expects facts or a refusal, never neither.
ALTER TABLE "evaluation_cases" ADD CONSTRAINT "evaluation_cases_expectation" CHECK (expect_refusal OR cardinality(expected_facts) > 0);
