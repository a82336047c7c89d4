-- [raw] Plan features are enforced (lib/plan-features.ts). The default plan, on which every tenant
-- without a billing account is, includes everything, so that a platform without billing behaves
-- as before: tenants' own model keys ('llm_credentials') were the one feature it lacked.
UPDATE "plans" SET "features" = array_append("features", 'llm_credentials')
WHERE "id" = 'default' AND NOT ('llm_credentials' = ANY ("features"));
