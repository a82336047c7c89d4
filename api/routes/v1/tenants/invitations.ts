// How a tenant gets its first owner: the platform operator (admin key) invites one. The link is
// emailed when SMTP is configured, else returned here once for the operator to pass on. It also
// gives a tenant whose owners are all gone a new one.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { issueInvitation } from '../../../invitations.ts';
import { HttpError } from '../../../plugins/app/errors.ts';
import { errorBody, errorResponses, idParams } from '../../../schemas/common.ts';
import { email, issuedInvitation } from '../../../schemas/team.ts';

const tenantInvitationRoutes: FastifyPluginAsyncZod = async (app) => {
  app.post(
    '/:id/invitations',
    {
      schema: {
        tags: ['tenants (admin)'],
        summary: "Invite an owner to a tenant (its first owner, or a new one)",
        description:
          'The single-use link, valid for INVITATION_TTL_HOURS, is emailed when SMTP is configured (503 email_unavailable and no invitation when sending fails), else returned here once (delivery `link`). 409 user_exists: the email is already in the team.',
        params: idParams,
        body: z.object({ email }).strict(),
        response: { 201: issuedInvitation, ...errorResponses, 503: errorBody },
      },
    },
    async (request, reply) => {
      const tenant = await app.db.tenant.findUnique({ where: { id: request.params.id }, select: { id: true, name: true } });
      if (!tenant) throw new HttpError(404, 'not_found', 'Tenant not found');
      return reply.code(201).send(await issueInvitation(app, request, tenant, { email: request.body.email, role: 'owner', invitedBy: null }));
    },
  );
};

export default tenantInvitationRoutes;
