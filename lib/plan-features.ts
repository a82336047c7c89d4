// The features a plan includes (`plans.features`) and the question every gate asks: does this
// tenant's plan include X? Read from the database on every check like the plan itself
// (lib/plans.ts): a plan change applies to the next request and the next activity, in every process.
//
// What each feature gates:
// - a channel type (webchat, whatsapp, messenger, instagram): adding a channel of the type, or
//   enabling a disabled one. Channels a tenant already runs keep receiving and answering.
// - documents: uploading documents and new versions (documents already ingested stay searchable).
// - functions: registering tenant functions and MCP servers, and offering or calling their tools.
// - webhooks: registering webhook endpoints, test pings, and sending any delivery.
// - llm_credentials: setting the tenant's own model provider keys, and using them (the platform's
//   key for the provider is used instead).
import type { ChannelType } from '../generated/prisma/client.ts';
import type { Db } from './db.ts';
import { planOfTenant } from './plans.ts';

export const PLAN_FEATURES = ['webchat', 'whatsapp', 'messenger', 'instagram', 'documents', 'functions', 'webhooks', 'llm_credentials'] as const;
export type PlanFeature = (typeof PLAN_FEATURES)[number];

export const PLAN_FEATURE_UNAVAILABLE_CODE = 'plan_feature_unavailable';

/** What a feature lets a tenant have, for messages and the web app. */
export const PLAN_FEATURE_LABELS: Record<PlanFeature, string> = {
  webchat: 'Web chat channels',
  whatsapp: 'WhatsApp channels',
  messenger: 'Messenger channels',
  instagram: 'Instagram channels',
  documents: 'Document uploads',
  functions: 'Functions and MCP servers',
  webhooks: 'Webhooks',
  llm_credentials: 'Own model provider keys',
};

/** The feature a channel type needs: each type is its own feature. */
export function channelFeature(type: ChannelType): PlanFeature {
  return type satisfies PlanFeature;
}

export class PlanFeatureError extends Error {
  constructor(
    readonly feature: PlanFeature,
    readonly planId: string,
  ) {
    super(`The ${planId} plan does not include the "${feature}" feature (${PLAN_FEATURE_LABELS[feature]}): upgrade the plan to use it`);
    this.name = 'PlanFeatureError';
  }
}

/** Whether the tenant's plan includes the feature now, and which plan it is on. */
export async function planIncludes(db: Db, tenantId: string, feature: PlanFeature): Promise<{ included: boolean; planId: string }> {
  // Documents and chunks are not read here, so their defaults do not matter.
  const plan = await planOfTenant(db, tenantId, { documents: 0, chunks: 0 });
  return { included: plan.features.includes(feature), planId: plan.id };
}

/** Throws PlanFeatureError when the tenant's plan lacks the feature. */
export async function requirePlanFeature(db: Db, tenantId: string, feature: PlanFeature): Promise<void> {
  const { included, planId } = await planIncludes(db, tenantId, feature);
  if (!included) throw new PlanFeatureError(feature, planId);
}
