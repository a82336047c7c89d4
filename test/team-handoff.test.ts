// A signed-in agent takes over, answers and releases a running conversation through the REST API:
// the agent id is the user's own id, from the session, whatever the body says. A real worker, the
// real Temporal server and Postgres, Meta's Graph API faked at the edge.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../api/app.ts';
import { createLogger } from '../lib/logger.ts';
import { forTenant } from '../lib/tenant-db.ts';
import { createConversationRig, eventually, text, type ConversationRig } from './support/conversations.ts';
import { createUser, signIn, TEST_PASSWORD, withSession, type TestSession } from './support/team.ts';
import { connectTestTemporal } from './support/temporal.ts';

describe('handoff by a signed-in agent', () => {
  let temporal: Awaited<ReturnType<typeof connectTestTemporal>>;
  let rig: ConversationRig;
  let app: App;
  let ann: { id: string; session: TestSession };
  let bob: { id: string; session: TestSession };

  async function agent(email: string) {
    const user = await createUser(rig.db, rig.tenantId, { email, role: 'agent' });
    const slug = (await rig.db.tenant.findUniqueOrThrow({ where: { id: rig.tenantId } })).slug;
    const { res, session } = await signIn(app, { tenant: slug, email, password: TEST_PASSWORD });
    expect(res.statusCode, res.body).toBe(200);
    return { id: user.id, session: session! };
  }

  beforeAll(async () => {
    temporal = await connectTestTemporal();
    rig = await createConversationRig(temporal.client);
    await rig.startWorkers(temporal.nativeConnection);
    app = await buildApp({ config: rig.config, db: rig.db, temporal: temporal.client, logger: createLogger({ level: 'silent', name: 'test' }) });
    ann = await agent('ann@example.com');
    bob = await agent('bob@example.com');
  });
  afterAll(async () => {
    await app?.close();
    await rig?.close();
    await temporal?.close();
  });

  const post = (who: TestSession, path: string, payload: object) => app.inject({ method: 'POST', url: `/api/v1/conversations/${path}`, headers: withSession(who), payload });

  it('takes over as the signed-in user, refuses another agent id in the body, and answers as that user', async () => {
    const u = `1555${Math.floor(Math.random() * 1e7)}`;
    await rig.deliver('whatsapp', u, [text('Hi, I need help')]);
    await eventually(() => rig.graph.delivered.some((d) => d.to === u), 20_000, 'the assistant answers');
    const tdb = forTenant(rig.db, rig.tenantId);
    const conversationId = (await tdb.conversation.findFirstOrThrow({ where: { externalUserId: u } })).id;

    const impersonating = await post(ann.session, `${conversationId}/take`, { agentId: bob.id });
    expect(impersonating.statusCode).toBe(403);
    expect(impersonating.json().error.code).toBe('agent_mismatch');

    const taken = await post(ann.session, `${conversationId}/take`, {});
    expect(taken.statusCode, taken.body).toBe(200);
    expect(taken.json()).toMatchObject({ conversationId, status: 'assigned_human', assignee: ann.id });
    await eventually(async () => (await tdb.conversation.findUnique({ where: { id: conversationId } }))?.assignee === ann.id, 10_000, 'the row names the user');

    expect((await post(bob.session, `${conversationId}/take`, {})).statusCode).toBe(409);
    expect((await post(bob.session, `${conversationId}/messages`, { text: 'Bob here' })).statusCode).toBe(409);

    const reply = await post(ann.session, `${conversationId}/messages`, { text: 'Hi, Ann here. How can I help?' });
    expect(reply.statusCode, reply.body).toBe(200);
    expect(reply.json().status).toBe('sent');
    await eventually(() => rig.graph.delivered.some((d) => d.to === u && d.text === 'Hi, Ann here. How can I help?'), 10_000, "the agent's message reaches the user");

    const mine = await app.inject({ url: `/api/v1/conversations?assignee=${ann.id}`, headers: withSession(ann.session) });
    expect(mine.json().items.map((c: { id: string }) => c.id)).toEqual([conversationId]);

    const released = await post(ann.session, `${conversationId}/release`, {});
    expect(released.statusCode, released.body).toBe(200);
    expect(released.json()).toMatchObject({ status: 'active', assignee: null });
  });
});
