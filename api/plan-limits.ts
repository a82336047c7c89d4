// Plan limits at the routes that add to them (channels, team seats): 402 plan_limit_reached when
// the tenant's plan allows no more, and an X-Plan-Warning header once usage reaches the warning
// share (lib/plan-limits.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkPlanLimit, PLAN_LIMIT_REACHED_CODE, PLAN_WARNING_HEADER, planWarningHeader, PlanLimitError } from '../lib/plan-limits.ts';
import { planDefaultsOf, type PlanLimitName } from '../lib/plans.ts';
import { HttpError } from './plugins/app/errors.ts';
import { errorBody } from './schemas/common.ts';

export const planLimitResponses = {
  402: errorBody.describe(
    "plan_limit_reached: the tenant's plan allows no more of this (details: limit, used, max, plan); an operator or a subscription moves it to a larger plan",
  ),
} as const;

/** Throws 402 when adding one would pass the plan's limit; sets X-Plan-Warning when it is near. */
export async function enforcePlanLimit(app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, limit: PlanLimitName): Promise<void> {
  try {
    const usage = await checkPlanLimit(app.db, request.tenantId, limit, planDefaultsOf(app.config));
    const warning = planWarningHeader([usage]);
    if (warning) reply.header(PLAN_WARNING_HEADER, warning);
  } catch (err) {
    if (!(err instanceof PlanLimitError)) throw err;
    throw new HttpError(402, PLAN_LIMIT_REACHED_CODE, err.message, { limit: err.limit, used: err.used, max: err.max, plan: err.planId });
  }
}
