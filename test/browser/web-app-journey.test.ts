// A business's first day in the web app, end to end in a real browser (Debian's Chromium through
// playwright-core) on the real paths: an API listening on a port, a real ingestion and
// conversation worker on the Temporal dev server, Postgres. The owner signs in, invites an agent
// (who joins through the link), connects a web chat channel, uploads a document and watches it
// become ready, asks the playground; a visitor chats on the widget and asks for a person; the
// agent takes the conversation over in the inbox, answers and releases it; the owner reads the
// overview's charts. Every page is screenshotted and checked with axe.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { HANDOFF_NOTICE } from '../../workflows/conversation.ts';
import type { TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { launchBrowser, openSignedInPage, openWatchedPage, screenshot } from '../support/browser.ts';
import { eventually } from '../support/conversations.ts';
import { createUser, TEST_PASSWORD, tokenOfLink } from '../support/team.ts';
import { startWebAppRig, type WebAppRig } from '../support/web-app-rig.ts';

const SHOT = 'web-app-journey';
const GUIDE = '# Opening hours\n\nThe Acme Bikes store opens at 9 am on weekdays and at 11 am on Sundays.\n\n# Returns\n\nBikes can be returned within 30 days with the receipt.';
const AGENT_PASSWORD = 'agent passphrase of some length';

describe('a first day in the web app', { timeout: 240_000 }, () => {
  let rig: WebAppRig;
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string };

  beforeAll(async () => {
    rig = await startWebAppRig('web-app-journey');
    ({ api, base } = rig);
    const slug = `bikes-${Math.random().toString(36).slice(2, 8)}`;
    tenant = { id: (await createTenant(api.db, { name: 'Acme Bikes', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: 'olivia@example.com', role: 'owner', name: 'Olivia' });
    browser = await launchBrowser();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await rig?.close();
  });

  const tdb = () => forTenant(api.db, tenant.id);

  async function look(page: Page, step: string) {
    await screenshot(page, SHOT, step);
    expect(await seriousA11yViolations(page), step).toEqual([]);
  }

  const widgetShows = (page: Page, author: string, count: number) => page.locator(`#messages .message[data-author="${author}"]`).nth(count - 1).waitFor({ timeout: 30_000 });
  const widgetTexts = (page: Page, author: string) => page.locator(`#messages .message[data-author="${author}"] .text`).allTextContents();
  async function visitorSays(page: Page, text: string) {
    await page.fill('#composer textarea[name=text]', text);
    await page.press('#composer textarea[name=text]', 'Enter');
  }

  it('the owner sets the tenant up, a visitor is answered and handed to the agent, who answers and releases; the overview counts it', async () => {
    // Sign in and invite an agent from the Team page; without SMTP the link is shown.
    const owner = await openSignedInPage(browser, base, '/team', { tenant: tenant.slug, email: 'olivia@example.com', password: TEST_PASSWORD });
    await owner.page.getByLabel('Email').fill('andy@example.com');
    await owner.page.selectOption('#invite-role', 'agent');
    await owner.page.click('#invite button[type=submit]');
    const agentLink = await owner.page.locator('#invite-link input').inputValue();
    await look(owner.page, 'team-invited');

    const agent = await openWatchedPage(browser, `${base}/app/accept-invitation#token=${tokenOfLink(agentLink)}`, ['401 /api/v1/me/']);
    await agent.page.getByLabel('Your name').fill('Andy');
    await agent.page.getByLabel('Password').fill(AGENT_PASSWORD);
    await agent.page.click('#accept-invitation button[type=submit]');
    await agent.page.locator('#role', { hasText: 'agent' }).waitFor();
    const andy = await tdb().user.findFirstOrThrow({ where: { email: 'andy@example.com' } });
    expect(andy.role).toBe('agent');

    // Connect a web chat channel; the snippet names the widget.
    await owner.page.click('nav.sections >> text=Channels');
    await owner.page.getByRole('button', { name: 'Web chat', exact: true }).click();
    const form = owner.page.locator('#connect-webchat');
    await form.getByLabel('Name').fill('Site chat');
    await form.getByLabel('Sites that may embed the chat').fill('https://bikes.example.com');
    await form.getByRole('button', { name: 'Connect Web chat' }).click();
    const setup = owner.page.locator('#channel-setup');
    await setup.getByRole('heading', { name: 'Set up Site chat' }).waitFor();
    const channel = await tdb().channel.findFirstOrThrow({ where: { type: 'webchat' } });
    const widgetUrl = `${base}/webchat/widget/${channel.widgetId}`;
    expect(await setup.getByLabel('Snippet for your site').inputValue()).toContain(`src="${widgetUrl}"`);
    await owner.page.frameLocator('iframe.widget-preview').locator('body[data-connection="open"]').waitFor();
    await look(owner.page, 'channels-webchat');

    // Upload the store guide and watch it become ready without a reload.
    await owner.page.click('nav.sections >> text=Knowledge');
    await owner.page.locator('#no-documents').waitFor();
    await owner.page.locator('#drop-zone input[type=file]').setInputFiles([{ name: 'store-guide.md', mimeType: 'text/markdown', buffer: Buffer.from(GUIDE) }]);
    await owner.page.locator('#documents tr[data-title="store-guide"][data-status="ready"]').waitFor({ timeout: 60_000 });
    expect((await tdb().document.findFirstOrThrow({ where: { title: 'store-guide' } })).status).toBe('ready');
    await look(owner.page, 'knowledge-ready');

    // The playground answers as a customer would be answered, with its source.
    await owner.page.click('nav.sections >> text=Assistant');
    await owner.page.getByLabel('Question').fill('When does the store open on Sundays?');
    await owner.page.click('#playground button[type=submit]');
    const played = owner.page.locator('#playground-chat .turn-assistant').first();
    await played.waitFor({ timeout: 30_000 });
    expect(await played.locator('.turn-text').textContent()).toContain('11 am on Sundays');
    expect(await played.locator('.source.cited .source-title').textContent()).toBe('store-guide · Opening hours');
    expect(await tdb().conversation.count()).toBe(0); // the playground is nobody's conversation
    await look(owner.page, 'assistant-playground');

    // The agent's inbox is open while the visitor writes: the conversation arrives live.
    await agent.page.goto(`${base}/app/inbox`);
    await agent.page.locator('.inbox h1').waitFor();

    const visitor = await openWatchedPage(browser, widgetUrl);
    await visitor.page.locator('body[data-connection="open"]').waitFor();
    await visitorSays(visitor.page, 'When does the store open on Sundays?');
    await widgetShows(visitor.page, 'assistant', 1);
    expect((await widgetTexts(visitor.page, 'assistant'))[0]).toContain('11 am on Sundays');
    await visitorSays(visitor.page, 'I would like to talk to a human');
    await widgetShows(visitor.page, 'assistant', 2);
    expect((await widgetTexts(visitor.page, 'assistant'))[1]).toBe(HANDOFF_NOTICE);
    await screenshot(visitor.page, SHOT, 'widget-handoff');
    const conversation = await eventually(() => tdb().conversation.findFirst({ where: { channelId: channel.id, status: 'handoff_requested' } }).then((c) => c ?? undefined), 20_000, 'handoff_requested');

    // The agent takes it over, answers on the widget, and releases it.
    const item = agent.page.locator(`#conversation-list button.conversation[data-id="${conversation.id}"]`);
    await item.waitFor({ timeout: 20_000 });
    await item.click();
    await agent.page.locator(`#conversation[data-id="${conversation.id}"] .from-assistant .thread-sources .source-title`, { hasText: 'store-guide' }).waitFor();
    await look(agent.page, 'inbox-waiting');
    await agent.page.click('#take');
    await agent.page.locator('#reply-text').waitFor();
    await eventually(() => tdb().conversation.findFirst({ where: { id: conversation.id, status: 'assigned_human', assignee: andy.id } }).then((c) => c ?? undefined), 10_000, 'assigned to Andy');
    await agent.page.fill('#reply-text', 'Hi, Andy here. How can I help?');
    await agent.page.press('#reply-text', 'Enter');
    await widgetShows(visitor.page, 'agent', 1);
    expect(await widgetTexts(visitor.page, 'agent')).toEqual(['Hi, Andy here. How can I help?']);
    await agent.page.locator('#conversation .from-agent').waitFor();
    await look(agent.page, 'inbox-answered');
    await agent.page.click('#release');
    await agent.page.locator('#take').waitFor();
    await eventually(() => tdb().conversation.findFirst({ where: { id: conversation.id, status: 'active', assignee: null } }).then((c) => c ?? undefined), 10_000, 'released');
    await visitorSays(visitor.page, 'Can bikes be returned?');
    await widgetShows(visitor.page, 'assistant', 3);
    expect((await widgetTexts(visitor.page, 'assistant'))[2]).toContain('30 days');
    await screenshot(visitor.page, SHOT, 'widget-after-release');

    // The overview counts today's messages on the web chat channel.
    const stored = await tdb().message.groupBy({ by: ['direction'], where: { conversationId: conversation.id }, _count: true });
    const count = (direction: string) => stored.find((s) => s.direction === direction)?._count ?? 0;
    expect(count('inbound')).toBe(3);
    expect(count('outbound')).toBe(4); // two answers, the handoff notice, Andy's reply
    await owner.page.click('nav.sections >> text=Overview');
    await owner.page.locator('#charts[data-range="7"]').waitFor();
    const chart = owner.page.locator('[data-chart=messages][data-channel="Site chat"]');
    await chart.waitFor();
    const today = new Date().toISOString().slice(0, 10);
    const todayRow = await chart.locator(`table tbody tr[data-day="${today}"] td`).allTextContents();
    expect(todayRow).toEqual([String(count('inbound')), String(count('outbound'))]);
    expect(await owner.page.locator('[data-chart=handoff] figcaption').textContent()).toBe('1 of 1 conversation (100 %) in the last 7 days asked for a person.');
    await look(owner.page, 'overview-charts');

    // Every page of the app, for the record: screenshots and the accessibility check.
    for (const section of ['Inbox', 'Functions', 'Webhooks', 'API keys', 'Usage']) {
      await owner.page.click(`nav.sections >> text=${section}`);
      await owner.page.locator('main.content h1').first().waitFor();
      await owner.page.waitForLoadState('networkidle');
      await look(owner.page, section);
    }

    expect(owner.problems).toEqual([]);
    expect(agent.problems).toEqual([]);
    expect(visitor.problems).toEqual([]);
  });
});
