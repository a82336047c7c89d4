import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DYNAMIC_CONFIG_FILE, HISTORY_SHARDS, renderClusterConfig, type ClusterConfig } from './temporal-cluster-config.ts';

const config: ClusterConfig = {
  ports: {
    frontend: 7233, frontendHttp: 7243, frontendMembership: 6933, history: 7234, historyMembership: 6934,
    matching: 7235, matchingMembership: 6935, worker: 7239, workerMembership: 6939,
  },
  postgresAddress: '127.0.0.1:54329',
  databaseUser: 'temporal',
  persistenceDatabase: 'temporal',
  visibilityDatabase: 'temporal_visibility',
  dynamicConfigFile: DYNAMIC_CONFIG_FILE,
};

describe('Temporal cluster config', () => {
  it('renders every placeholder of the template into the YAML the server reads', () => {
    const text = renderClusterConfig(config);
    expect(text).not.toMatch(/\$\{/);
    const yaml = parse(text) as {
      persistence: { numHistoryShards: number; datastores: Record<string, { sql: { databaseName: string; connectAddr: string; user: string; password: string } }> };
      services: Record<string, { rpc: { grpcPort: number; membershipPort: number } }>;
      clusterMetadata: { clusterInformation: { active: { rpcAddress: string } } };
      dynamicConfigClient: { filepath: string };
    };
    expect(yaml.persistence.numHistoryShards).toBe(HISTORY_SHARDS);
    const stores = yaml.persistence.datastores;
    expect(stores['postgres-default']!.sql).toMatchObject({ databaseName: 'temporal', connectAddr: '127.0.0.1:54329', user: 'temporal' });
    expect(stores['postgres-visibility']!.sql.databaseName).toBe('temporal_visibility');
    // The password is left to the server's own template: no rendered file holds it.
    expect(stores['postgres-default']!.sql.password).toBe('{{ env "TEMPORAL_DB_PASSWORD" }}');
    expect(text.slice(0, 1024)).toContain('# enable-template');
    expect(yaml.services.history!.rpc).toEqual({ grpcPort: 7234, membershipPort: 6934, bindOnLocalHost: true });
    expect(yaml.services.worker!.rpc.membershipPort).toBe(6939);
    expect(yaml.clusterMetadata.clusterInformation.active.rpcAddress).toBe('127.0.0.1:7233');
    expect(yaml.dynamicConfigClient.filepath).toBe(DYNAMIC_CONFIG_FILE);
  });

  it('refuses a placeholder without a value, clashing ports and values that would break the YAML', () => {
    expect(() => renderClusterConfig(config, 'port: ${NO_SUCH_VALUE}\n')).toThrow(/NO_SUCH_VALUE/);
    expect(() => renderClusterConfig({ ...config, ports: { ...config.ports, history: 7233 } })).toThrow(/must differ/);
    expect(() => renderClusterConfig({ ...config, ports: { ...config.ports, matching: 70000 } })).toThrow(/1–65535/);
    expect(() => renderClusterConfig({ ...config, databaseUser: 'temporal\n  evil: true' })).toThrow(/DATABASE_USER/);
  });
});
