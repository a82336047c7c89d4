// Platform operators (ADMIN_API_KEY, the admin scope of api/routes/v1/index.ts) set a tenant's plan
// by hand, effective at the tenant's next request (plans are never cached: lib/plans.ts), and read
// the audit of its plan changes. A later Stripe subscription event sets the plan again.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { billingOf } from '../../../../lib/billing.ts';
import { setTenantPlan } from '../../../../lib/billing-accounts.ts';
import { findPlan, planDefaultsOf, UnknownPlanError } from '../../../../lib/plans.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorResponses, idParams } from '../../../schemas/common.ts';
import { planSchema, planView } from './index.ts';

const planChangeSchema = z.object({
  id: z.uuid(),
  fromPlan: z.string(),
  toPlan: z.string(),
  actorKind: z.enum(['operator', 'stripe']),
  actor: z.string().describe("The operator's name as given, or the Stripe event id"),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
});

const operatorBillingRoutes: FastifyPluginAsyncZod = async (app) => {
  const tags = ['billing', 'tenants'];
  const billing = billingOf(app.config);
  const defaults = planDefaultsOf(app.config);

  const tenantExists = async (id: string) => {
    if (!(await app.db.tenant.findUnique({ where: { id }, select: { id: true } }))) throw new HttpError(404, 'not_found', 'Tenant not found');
  };

  app.put(
    '/tenants/:id/plan',
    {
      schema: {
        tags,
        summary: "Set a tenant's plan (audited; effective at its next request)",
        description: '404 not_found: no such tenant; 404 unknown_plan: no such plan. Setting the plan it is on changes and audits nothing.',
        params: idParams,
        body: z
          .object({
            plan: z.string().min(1).max(64),
            operator: z.string().trim().min(1).max(200).optional().describe('Who makes the change, for the audit (default `admin`)'),
            reason: z.string().trim().min(1).max(1000).optional(),
          })
          .strict(),
        response: { 200: z.object({ tenantId: z.uuid(), from: z.string(), plan: planSchema, changed: z.boolean() }), ...errorResponses },
      },
    },
    async (request) => {
      await tenantExists(request.params.id);
      try {
        const change = await setTenantPlan(app.db, request.params.id, request.body.plan, {
          kind: 'operator',
          name: request.body.operator ?? 'admin',
          reason: request.body.reason,
          requestId: request.id,
        });
        request.log.info({ tenantId: request.params.id, from: change.from, to: change.to, changed: change.changed }, 'tenant plan set by an operator');
        return { tenantId: request.params.id, from: change.from, plan: planView(await findPlan(app.db, change.to, defaults), billing), changed: change.changed };
      } catch (err) {
        if (err instanceof UnknownPlanError) throw new HttpError(404, 'unknown_plan', err.message);
        throw err;
      }
    },
  );

  app.get(
    '/tenants/:id/plan-changes',
    { schema: { tags, summary: "A tenant's plan changes, newest first (the last 100)", params: idParams, response: { 200: z.object({ items: z.array(planChangeSchema) }), ...errorResponses } } },
    async (request) => {
      await tenantExists(request.params.id);
      const rows = await app.db.planChange.findMany({ where: { tenantId: request.params.id }, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: 100 });
      return {
        items: rows.map((r) => ({
          id: r.id,
          fromPlan: r.fromPlanId,
          toPlan: r.toPlanId,
          actorKind: r.actorKind as 'operator' | 'stripe',
          actor: r.actor,
          reason: r.reason,
          requestId: r.requestId,
          createdAt: r.createdAt.toISOString(),
        })),
      };
    },
  );
};

export default operatorBillingRoutes;
