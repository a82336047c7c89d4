// Plan features at the routes that add what a feature covers (lib/plan-features.ts): 402
// plan_feature_unavailable, shaped like plan_limit_reached, when the tenant's plan lacks it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PLAN_FEATURE_UNAVAILABLE_CODE, PlanFeatureError, requirePlanFeature, type PlanFeature } from '../lib/plan-features.ts';
import { HttpError } from './plugins/app/errors.ts';
import { errorBody } from './schemas/common.ts';

const FEATURE_UNAVAILABLE =
  "plan_feature_unavailable: the tenant's plan does not include the feature this needs (details: feature, plan); an operator or a subscription moves it to a plan that does";

export const planFeatureResponses = { 402: errorBody.describe(FEATURE_UNAVAILABLE) } as const;

/** For routes held to a plan limit and a feature both (adding a channel). */
export const planLimitOrFeatureResponses = {
  402: errorBody.describe(
    `plan_limit_reached: the tenant's plan allows no more of this (details: limit, used, max, plan); or ${FEATURE_UNAVAILABLE}`,
  ),
} as const;

/** Throws 402 when the tenant's plan lacks the feature. */
export async function enforcePlanFeature(app: FastifyInstance, request: FastifyRequest, feature: PlanFeature): Promise<void> {
  try {
    await requirePlanFeature(app.db, request.tenantId, feature);
  } catch (err) {
    if (!(err instanceof PlanFeatureError)) throw err;
    throw new HttpError(402, PLAN_FEATURE_UNAVAILABLE_CODE, err.message, { feature: err.feature, plan: err.planId });
  }
}
