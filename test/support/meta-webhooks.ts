// Webhook bodies as Meta sends them, for load generators (bench/, test/chaos/): one text message
// of one end user per WhatsApp Cloud API delivery.
export interface WhatsAppText {
  /** The business number's phone_number_id: the platform finds the channel by it. */
  phoneNumberId: string;
  /** The end user's wa_id. */
  from: string;
  /** The message id (wamid.…): a redelivery repeats it. */
  id: string;
  text: string;
  /** The contact's profile name. */
  name?: string;
}

export function whatsappTextBody(message: WhatsAppText): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: message.phoneNumberId },
              contacts: [{ profile: { name: message.name ?? 'Test User' }, wa_id: message.from }],
              messages: [{ from: message.from, id: message.id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: message.text } }],
            },
          },
        ],
      },
    ],
  });
}
