// Test processes log the Temporal SDK at WARN: worker state changes would drown the test output.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });
