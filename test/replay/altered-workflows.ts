// The platform's workflows with one careless change, for test/replay.test.ts to prove that replay
// catches it: the conversation runs a new first step (an activity no recorded history holds)
// before the real story, without patched(). Every recorded conversation history must then fail
// to replay with a DeterminismViolationError. Bundled by that test only; no worker runs it.
import { proxyActivities } from '@temporalio/workflow';
import { conversation as recorded } from '../../workflows/conversation.ts';

export * from '../../workflows/index.ts';

const { greetNewConversation } = proxyActivities<{ greetNewConversation(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function conversation(...args: Parameters<typeof recorded>): ReturnType<typeof recorded> {
  await greetNewConversation();
  return recorded(...args);
}
