-- Tenants that existed before privacy.redactPii keep sending text as written until they turn
-- redaction on; the setting's default (on) applies to tenants created from now on.
UPDATE "tenants"
   SET "settings" = jsonb_set(
         "settings",
         '{privacy}',
         COALESCE("settings" -> 'privacy', '{}'::jsonb) || '{"redactPii": false}'::jsonb)
 WHERE NOT COALESCE("settings" -> 'privacy' ? 'redactPii', false);
