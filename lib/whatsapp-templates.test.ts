import { describe, expect, it } from 'vitest';
import { phoneNumberProblem, placeholdersOf, renderTemplate, TemplateParameterError, whatsappIdOf, type SendableTemplate } from './whatsapp-templates.ts';

const orderUpdate: SendableTemplate = {
  name: 'order_update',
  language: 'en_US',
  parameterFormat: 'POSITIONAL',
  components: [
    { type: 'HEADER', format: 'TEXT', text: 'Order {{1}}' },
    { type: 'BODY', text: 'Hi {{1}}, your order {{2}} ships {{3}}.' },
    { type: 'FOOTER', text: 'Reply STOP to opt out' },
    { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Track', url: 'https://shop.example.com/track/{{1}}' }, { type: 'QUICK_REPLY', text: 'Stop promotions' }] },
  ],
};

const named: SendableTemplate = {
  name: 'welcome',
  language: 'en',
  parameterFormat: 'NAMED',
  components: [{ type: 'HEADER', format: 'IMAGE' }, { type: 'BODY', text: 'Welcome {{first_name}}! Your code is {{code}}.' }],
};

const issuesOf = (t: SendableTemplate, p: Parameters<typeof renderTemplate>[1]) => {
  try {
    renderTemplate(t, p);
  } catch (err) {
    if (err instanceof TemplateParameterError) return err.issues;
    throw err;
  }
  return [];
};

describe('renderTemplate', () => {
  it("builds Meta's components and the text the customer reads", () => {
    const r = renderTemplate(orderUpdate, { header: ['#42'], body: ['Ana', '#42', 'today'], buttons: [{ index: 0, text: 'A42' }] });
    expect(r.text).toBe('Order #42\n\nHi Ana, your order #42 ships today.\n\nReply STOP to opt out');
    expect(r.components).toEqual([
      { type: 'header', parameters: [{ type: 'text', text: '#42' }] },
      { type: 'body', parameters: [{ type: 'text', text: 'Ana' }, { type: 'text', text: '#42' }, { type: 'text', text: 'today' }] },
      { type: 'button', sub_type: 'url', index: '0', parameters: [{ type: 'text', text: 'A42' }] },
    ]);
  });

  it('names named parameters and takes a media header by link', () => {
    const r = renderTemplate(named, { headerMedia: { link: 'https://cdn.example.com/w.png' }, body: { first_name: 'Ana', code: 'X1' } });
    expect(r.components).toEqual([
      { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example.com/w.png' } }] },
      { type: 'body', parameters: [{ type: 'text', text: 'Ana', parameter_name: 'first_name' }, { type: 'text', text: 'X1', parameter_name: 'code' }] },
    ]);
    expect(r.text).toBe('[image]\n\nWelcome Ana! Your code is X1.');
  });

  it('names every missing, extra, empty, malformed and too long value', () => {
    expect(issuesOf(orderUpdate, { body: ['Ana'] })).toEqual([
      { path: '/parameters/header', message: 'needs 1 value ({{1}})' },
      { path: '/parameters/body', message: 'needs exactly 3 values, got 1' },
      { path: '/parameters/buttons/0', message: 'button 0 (URL) needs a value' },
    ]);
    expect(issuesOf(orderUpdate, { header: ['x'.repeat(60)], body: ['', 'a\nb', 'ok'], buttons: [{ index: 0, text: 'a' }, { index: 1, text: 'no' }, { index: 5, text: 'x' }] })).toEqual([
      { path: '/parameters/header', message: 'renders to 66 characters; at most 60' },
      { path: '/parameters/body/0', message: 'must not be empty' },
      { path: '/parameters/body/1', message: 'must not contain new lines, tabs or more than four spaces in a row' },
      { path: '/parameters/buttons/1', message: 'button 1 (QUICK_REPLY) takes no value' },
      { path: '/parameters/buttons/5', message: 'this template has no such button' },
    ]);
    expect(issuesOf(named, { body: { first_name: 'Ana', nickname: 'A' } })).toEqual([
      { path: '/parameters/headerMedia', message: 'is required: the template\'s header is an image' },
      { path: '/parameters/body/code', message: 'is required' },
      { path: '/parameters/body/nickname', message: 'is not a placeholder of this template' },
    ]);
    expect(issuesOf(named, { headerMedia: { link: 'https://x.example/a.png' }, body: ['Ana', 'X1'] })).toEqual([
      { path: '/parameters/body', message: "this template's placeholders are named (first_name, code): give an object" },
    ]);
    expect(issuesOf({ ...orderUpdate, components: [{ type: 'BODY', text: `${'x'.repeat(1020)} {{1}}` }] }, { body: ['long'] })).toEqual([
      { path: '/parameters/body', message: 'renders to 1025 characters; at most 1024' },
    ]);
  });

  it('needs nothing for a template without placeholders', () => {
    expect(renderTemplate({ ...orderUpdate, components: [{ type: 'BODY', text: 'Hello!' }] })).toEqual({ components: [], text: 'Hello!' });
  });
});

describe('placeholders and phone numbers', () => {
  it('lists placeholders once, in order', () => {
    expect(placeholdersOf('{{2}} {{1}} {{2}} {{ name }}')).toEqual(['2', '1', 'name']);
  });
  it('turns a phone number into a WhatsApp id, or refuses it', () => {
    expect(whatsappIdOf('+1 (555) 010-9999')).toBe('15550109999');
    expect(whatsappIdOf('4915123456789')).toBe('4915123456789');
    expect(whatsappIdOf('0049 151')).toBeNull();
    expect(whatsappIdOf('+1 555 CALL NOW')).toBeNull();
    expect(whatsappIdOf('1234567890123456')).toBeNull();
    expect(whatsappIdOf('+49 151+23456789')).toBeNull();
    expect(whatsappIdOf('+1 555 010 9999 ext 12')).toBeNull();
  });
  it('says what is wrong with what cannot be a phone number', () => {
    expect(phoneNumberProblem('+1 (555) 010-9999')).toBeNull();
    expect(phoneNumberProblem('+1 555 CALL NOW')).toMatch(/only digits, a leading \+/);
    expect(phoneNumberProblem('0049 151 2345678')).toMatch(/country code, not 0/);
    expect(phoneNumberProblem('+1 555')).toBe('has 4 digits; a number with its country code has 7 to 15 (E.164)');
  });
});
