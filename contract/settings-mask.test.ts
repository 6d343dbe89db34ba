import { describe, expect, it } from 'vitest';
import { SECRET_MASK, maskSecrets, maskUrlCredentials } from './settings-mask.js';

describe('maskUrlCredentials', () => {
  it('masks the password inside a URL and keeps the user, host, port and path', () => {
    expect(maskUrlCredentials('mqtt://user:secret@host:1883')).toBe(`mqtt://user:${SECRET_MASK}@host:1883`);
    expect(maskUrlCredentials('mqtts://agent:hunter2@broker:8883/')).toBe(`mqtts://agent:${SECRET_MASK}@broker:8883/`);
    expect(maskUrlCredentials('redis://:pw@10.0.0.5:6379/2')).toBe(`redis://:${SECRET_MASK}@10.0.0.5:6379/2`);
    expect(maskUrlCredentials('https://ops:p%40ss@hooks.example.com/alert')).toBe(`https://ops:${SECRET_MASK}@hooks.example.com/alert`);
  });

  it('masks a lone user name (a token in disguise) and every query value, keeping the query names', () => {
    expect(maskUrlCredentials('https://ghp_abc123@hooks.example.com/x')).toBe(`https://${SECRET_MASK}@hooks.example.com/x`);
    expect(maskUrlCredentials('https://hooks.example.com/x?token=abc&team=ops')).toBe(
      `https://hooks.example.com/x?token=${SECRET_MASK}&team=${SECRET_MASK}`,
    );
  });

  it('leaves URLs without credentials, and strings that are not URLs, exactly as they were', () => {
    for (const value of [
      'mqtt://localhost:1883',
      'http://influx:8086',
      '/dev/ttyUSB0',
      'usb:0403:6001',
      'tcp://10.0.0.9:4001',
      'not a url',
      'mqtt://[bad',
      '',
    ]) {
      expect(maskUrlCredentials(value)).toBe(value);
    }
  });
});

describe('maskSecrets', () => {
  const settings = {
    dataDir: './data',
    mqtt: { url: 'mqtt://backend:in-url@broker:1883', username: 'backend', password: 'in-field', keepaliveSeconds: 30 },
    store: { influx: { url: 'http://influx:8086', token: 'influx-token', password: 'influx-pw', username: 'u' } },
    auth: { passwordFile: '/etc/furnace/users', tokens: [{ name: 'grafana', sha256: 'a'.repeat(64), scopes: ['read'] }] },
    alerts: { webhooks: [{ name: 'pager', url: 'https://pager.example.com/hook?key=hook-key', secret: 'hmac-key-0123456789' }] },
    tls: { keyFile: '/etc/furnace/key.pem' },
    extra: { apiToken: 'camel-token', clientSecret: 'camel-secret', unset: undefined, nothing: null },
  };

  it('masks passwords, tokens and secrets at any depth, in lists too, and credentials inside every URL', () => {
    const masked = maskSecrets(settings);
    const shown = JSON.stringify(masked);
    for (const secret of ['in-url', 'in-field', 'influx-token', 'influx-pw', 'hook-key', 'hmac-key', 'camel-token', 'camel-secret']) {
      expect(shown).not.toContain(secret);
    }
    expect(masked.mqtt).toEqual({
      url: `mqtt://backend:${SECRET_MASK}@broker:1883`,
      username: 'backend',
      password: SECRET_MASK,
      keepaliveSeconds: 30,
    });
    expect(masked.store.influx).toEqual({ url: 'http://influx:8086', token: SECRET_MASK, password: SECRET_MASK, username: 'u' });
    expect(masked.alerts.webhooks[0]).toEqual({
      name: 'pager',
      url: `https://pager.example.com/hook?key=${SECRET_MASK}`,
      secret: SECRET_MASK,
    });
    expect(masked.extra).toEqual({ apiToken: SECRET_MASK, clientSecret: SECRET_MASK, unset: undefined, nothing: null });
  });

  it('shows what ops need to check: file paths, token hashes and names, and every other value', () => {
    const masked = maskSecrets(settings);
    expect(masked.auth).toEqual(settings.auth);
    expect(masked.tls.keyFile).toBe('/etc/furnace/key.pem');
    expect(masked.dataDir).toBe('./data');
  });

  it('returns a copy and leaves the settings given (frozen ones too) untouched', () => {
    const frozen = Object.freeze({ mqtt: Object.freeze({ password: 'p', url: 'mqtt://u:p@h' }) });
    expect(maskSecrets(frozen)).toEqual({ mqtt: { password: SECRET_MASK, url: `mqtt://u:${SECRET_MASK}@h` } });
    expect(frozen.mqtt).toEqual({ password: 'p', url: 'mqtt://u:p@h' });
    expect(maskSecrets(settings)).not.toBe(settings);
    expect(settings.mqtt.password).toBe('in-field');
  });
});
