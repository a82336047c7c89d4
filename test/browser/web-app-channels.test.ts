// The Channels page of the web app in a real browser against a real API, Postgres and the fake
// Graph API: an owner connects WhatsApp, Messenger, web chat and Instagram (each after a value the
// API or Meta refuses, shown at its field), sees the webhook URL and verify token to paste into Meta, tests
// the WhatsApp connection (once connected, once with a token Meta refuses), sees the web chat
// snippet and the widget's live preview, edits a channel, disconnects one, and makes a new verify
// token once the page no longer holds the one it set. After each step the test reads what the
// server now holds.
import { createHash, randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChannelSecrets } from '../../lib/channels.ts';
import { forTenant } from '../../lib/tenant-db.ts';
import { createTenant } from '../../lib/tenants.ts';
import { startTestApi, type TestApi } from '../support/api.ts';
import { seriousA11yViolations } from '../support/axe.ts';
import { freePort, launchBrowser, openSignedInPage, screenshot } from '../support/browser.ts';
import { createUser, TEST_PASSWORD } from '../support/team.ts';

const SHOT = 'web-app-channels';
const digits = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 10)).join('');

describe('the Channels page in a browser', { timeout: 120_000 }, () => {
  let api: TestApi;
  let base: string;
  let browser: Browser;
  let tenant: { id: string; slug: string };
  const owner = { email: 'olivia@example.com' };

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = await startTestApi('web_app_channels', { APP_BASE_URL: base });
    await api.app.listen({ host: '127.0.0.1', port });
    const slug = `channels-${randomBytes(3).toString('hex')}`;
    tenant = { id: (await createTenant(api.db, { name: 'Acme Ltd', slug })).tenant.id, slug };
    await createUser(api.db, tenant.id, { email: owner.email, role: 'owner' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  const channels = () => forTenant(api.db, tenant.id).channel.findMany({ orderBy: { createdAt: 'asc' } });
  const secretsOf = (id: string) => readChannelSecrets(api.db, api.config.SECRETS_KEYS, id);
  const sha256 = (text: string) => createHash('sha256').update(text).digest();

  /** Screenshot and accessibility check of the page as it is now. */
  async function look(page: Page, step: string) {
    await screenshot(page, SHOT, step);
    expect(await seriousA11yViolations(page), step).toEqual([]);
  }

  it('connects, sets up, tests, edits and disconnects channels, each change held by the server', async () => {
    // The three refused values below answer 400, shown at their fields.
    const { page, problems } = await openSignedInPage(browser, base, '/channels', { tenant: tenant.slug, email: owner.email, password: TEST_PASSWORD }, ['400 /api/v1/channels/', '422 /api/v1/channels/']);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
    await page.getByText('None yet: connect one below.').waitFor();
    await look(page, 'empty');

    // WhatsApp: a phone number id that is not one first.
    const accessToken = `EAAG${randomBytes(16).toString('hex')}`;
    const appSecret = randomBytes(16).toString('hex');
    const number = digits(15);
    api.graph.own(accessToken, { phoneNumberIds: [number] });
    await page.getByRole('button', { name: 'WhatsApp', exact: true }).click();
    const whatsapp = page.locator('#connect-whatsapp');
    await whatsapp.getByLabel('Name').fill('Support line');
    await whatsapp.getByLabel('Phone number ID').fill('+1 555 0100');
    await whatsapp.getByLabel('WhatsApp Business Account ID').fill(digits(15));
    await whatsapp.getByLabel('Access token').fill(accessToken);
    await whatsapp.getByLabel('App secret').fill(appSecret);
    const verifyToken = await whatsapp.getByLabel('Verify token').inputValue();
    expect(verifyToken).toMatch(/^[A-Za-z0-9_-]{24}$/); // suggested
    await whatsapp.getByRole('button', { name: 'Connect WhatsApp' }).click();
    await whatsapp.getByText('Must be a numeric id as shown by Meta.').waitFor();
    expect(await whatsapp.getByLabel('Phone number ID').getAttribute('aria-invalid')).toBe('true');
    expect(await channels()).toEqual([]);
    await look(page, 'whatsapp-refused-id');

    await whatsapp.getByLabel('Phone number ID').fill(number);
    await whatsapp.getByRole('button', { name: 'Connect WhatsApp' }).click();
    const setup = page.locator('#channel-setup');
    await setup.getByRole('heading', { name: 'Set up Support line' }).waitFor();
    const [wa] = await channels();
    expect(wa).toMatchObject({ type: 'whatsapp', name: 'Support line', phoneNumberId: number, status: 'active' });
    expect(Buffer.from(wa!.verifyTokenHash!)).toEqual(sha256(verifyToken));
    expect(await secretsOf(wa!.id)).toEqual({ accessToken, appSecret });

    // What to paste into Meta: the callback URL (copied) and the verify token just set.
    expect(await setup.getByLabel('Callback URL').inputValue()).toBe(`${base}/webhooks/whatsapp`);
    expect(await setup.getByLabel('Verify token').inputValue()).toBe(verifyToken);
    await setup.getByRole('button', { name: 'Copy Callback URL' }).click();
    await setup.getByText('Copied.').waitFor();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(`${base}/webhooks/whatsapp`);
    await look(page, 'whatsapp-setup');

    // Test connection: what Meta knows the number as, then a token Meta no longer accepts.
    api.graph.reset();
    await setup.getByRole('button', { name: 'Test connection' }).click();
    await setup.getByText(`Meta knows this number as +1 555-${number.slice(-4)}, Test Business.`).waitFor();
    expect(api.graph.requests).toMatchObject([{ method: 'GET', path: `/v21.0/${number}`, query: { fields: 'display_phone_number,verified_name' } }]);
    expect(api.graph.requests[0]!.headers.authorization).toBe(`Bearer ${accessToken}`);
    await look(page, 'whatsapp-test-ok');
    api.graph.failNext(1, { code: 190, subcode: 463, message: 'Error validating access token: Session has expired on Monday, 30-Nov-26.' });
    await setup.getByRole('button', { name: 'Test connection' }).click();
    await setup.getByText('The token is not valid.').waitFor();
    await setup.getByText(/Meta said: Error validating access token: Session has expired/).waitFor();
    await setup.getByText('Graph API error 190, subcode 463').waitFor();
    expect(await page.content()).not.toContain(accessToken);
    await look(page, 'whatsapp-test-invalid-token');

    // Messenger: a page token with a space first.
    const pageToken = `EAAG${randomBytes(16).toString('hex')}`;
    const pageId = digits(15);
    api.graph.own(pageToken, { pageId });
    await page.getByRole('button', { name: 'Messenger', exact: true }).click();
    const messenger = page.locator('#connect-messenger');
    await messenger.getByLabel('Name').fill('Acme page');
    await messenger.getByLabel('Page ID').fill(pageId);
    await messenger.getByLabel('Page access token').fill(`${pageToken.slice(0, 10)} ${pageToken.slice(10)}`);
    await messenger.getByLabel('App secret').fill(appSecret);
    await messenger.getByRole('button', { name: 'Connect Messenger' }).click();
    await messenger.getByText('Must be visible ASCII characters (no whitespace).').waitFor();
    expect(await channels()).toHaveLength(1);
    await look(page, 'messenger-refused-token');
    await messenger.getByLabel('Page access token').fill(pageToken);
    await messenger.getByRole('button', { name: 'Connect Messenger' }).click();
    await setup.getByRole('heading', { name: 'Set up Acme page' }).waitFor();
    const fb = (await channels())[1]!;
    expect(fb).toMatchObject({ type: 'messenger', name: 'Acme page', pageId });
    expect(await secretsOf(fb.id)).toEqual({ pageAccessToken: pageToken, appSecret });
    expect(await setup.getByLabel('Callback URL').inputValue()).toBe(`${base}/webhooks/messenger`);
    await look(page, 'messenger-setup');

    // Web chat: an origin without its scheme first.
    await page.getByRole('button', { name: 'Web chat', exact: true }).click();
    const webchat = page.locator('#connect-webchat');
    await webchat.getByLabel('Name').fill('Shop chat');
    await webchat.getByLabel('Sites that may embed the chat').fill('shop.example.com');
    await webchat.getByRole('button', { name: 'Connect Web chat' }).click();
    await webchat.getByText('Must be an origin such as https://shop.example.com (scheme, host, optional port).').waitFor();
    expect(await channels()).toHaveLength(2);
    await look(page, 'webchat-refused-origin');
    await webchat.getByLabel('Sites that may embed the chat').fill('https://shop.example.com');
    await webchat.getByRole('button', { name: 'Connect Web chat' }).click();
    await setup.getByRole('heading', { name: 'Set up Shop chat' }).waitFor();
    const wc = (await channels())[2]!;
    expect(wc).toMatchObject({ type: 'webchat', name: 'Shop chat', config: { allowedOrigins: ['https://shop.example.com'] } });
    const widgetUrl = `${base}/webchat/widget/${wc.widgetId}`;
    const snippet = await setup.getByLabel('Snippet for your site').inputValue();
    expect(snippet).toBe(`<iframe src="${widgetUrl}" title="Chat" style="width:360px;height:520px;border:0"></iframe>`);
    await setup.getByRole('button', { name: 'Copy Snippet for your site' }).click();
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(snippet);
    // The preview is the widget itself, connected to this API as a visitor.
    const preview = page.frameLocator('iframe.widget-preview');
    await preview.locator('body[data-connection="open"]').waitFor();
    await preview.getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await preview.locator('#status').textContent()).toBe('Online');
    await look(page, 'webchat-setup-preview');

    // Edit: a new name, secrets left empty (kept).
    await page.getByRole('button', { name: 'Edit Support line' }).click();
    const edit = page.locator(`#edit-channel-${wa!.id}`);
    expect(await edit.getByLabel('Access token').inputValue()).toBe(''); // never shown back
    await edit.getByText('Leave empty to keep the stored one.', { exact: false }).first().waitFor();
    expect(await edit.getByLabel('Phone number ID').inputValue()).toBe(number);
    await edit.getByLabel('Name').fill('Sales line');
    await look(page, 'edit');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Sales line is saved.').waitFor();
    const edited = (await channels())[0]!;
    expect(edited).toMatchObject({ id: wa!.id, name: 'Sales line', phoneNumberId: number });
    expect(Buffer.from(edited.verifyTokenHash!)).toEqual(sha256(verifyToken));
    expect(await secretsOf(wa!.id)).toEqual({ accessToken, appSecret });

    // Disconnect, after a confirmation.
    await page.getByRole('button', { name: 'Disconnect Acme page' }).click();
    await page.getByText('Its conversations and messages are deleted too.').waitFor();
    await look(page, 'disconnect-confirm');
    expect(await channels()).toHaveLength(3);
    await page.getByRole('button', { name: 'Disconnect Acme page' }).click();
    await page.getByText('Acme page is disconnected.').waitFor();
    expect((await channels()).map((c) => c.name)).toEqual(['Sales line', 'Shop chat']);
    await look(page, 'after-disconnect');

    // After a reload the verify token is gone from the page (the server holds its hash only): a new one can be made.
    await page.reload();
    await page.getByRole('button', { name: 'Set up Sales line' }).click();
    await setup.getByText('Set, and not shown again: the platform keeps only its fingerprint.', { exact: false }).waitFor();
    await setup.getByRole('button', { name: 'Make a new verify token' }).click();
    const newVerifyToken = await setup.getByLabel('Verify token').inputValue();
    expect(newVerifyToken).not.toBe(verifyToken);
    expect(Buffer.from((await channels())[0]!.verifyTokenHash!)).toEqual(sha256(newVerifyToken));
    await look(page, 'new-verify-token');

    // Instagram: an account id the page is not linked to first (Meta's answer lands on the account id).
    const igToken = `EAAG${randomBytes(16).toString('hex')}`;
    const [igPage, igAccount] = [digits(15), `1784${digits(11)}`];
    api.graph.own(igToken, { pageId: igPage, instagramAccountId: igAccount });
    await page.getByRole('button', { name: 'Instagram', exact: true }).click();
    const instagram = page.locator('#connect-instagram');
    await instagram.getByLabel('Name').fill('Shop Instagram');
    await instagram.getByLabel('Instagram account ID').fill(`1784${digits(11)}`);
    await instagram.getByLabel('Facebook Page ID').fill(igPage);
    await instagram.getByLabel('Page access token').fill(igToken);
    await instagram.getByLabel('App secret').fill(appSecret);
    await instagram.getByRole('button', { name: 'Connect Instagram' }).click();
    await instagram.getByText('Meta says the token does not own this id', { exact: false }).waitFor();
    expect(await instagram.getByLabel('Instagram account ID').getAttribute('aria-invalid')).toBe('true');
    await instagram.getByLabel('Instagram account ID').fill(igAccount);
    await instagram.getByRole('button', { name: 'Connect Instagram' }).click();
    await setup.getByRole('heading', { name: 'Set up Shop Instagram' }).waitFor();
    const ig = (await channels()).find((c) => c.type === 'instagram')!;
    expect(ig).toMatchObject({ name: 'Shop Instagram', instagramAccountId: igAccount, pageId: igPage });
    expect(await secretsOf(ig.id)).toEqual({ pageAccessToken: igToken, appSecret });
    expect(await setup.getByLabel('Callback URL').inputValue()).toBe(`${base}/webhooks/instagram`);
    await setup.getByRole('button', { name: 'Test connection' }).click();
    await setup.getByText(`The page's linked Instagram account is @test_shop (${igAccount}).`).waitFor();
    await look(page, 'instagram-setup');

    // A phone's width: nothing wider than the screen.
    await page.getByRole('button', { name: 'Set up Shop chat' }).click();
    await page.setViewportSize({ width: 360, height: 800 });
    await preview.locator('body[data-connection="open"]').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    for (const name of ['Disconnect Sales line', 'Disconnect Shop chat']) {
      const box = (await page.getByRole('button', { name }).boundingBox())!;
      expect(box.x + box.width, name).toBeLessThanOrEqual(360);
    }
    await look(page, 'narrow');

    expect(problems).toEqual([]);
  });
});
