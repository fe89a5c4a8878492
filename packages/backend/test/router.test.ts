import { describe, expect, it } from 'vitest';
import { Router, type Route } from '../src/router.js';

const route = (method: string, pattern: string): Route => ({ method, pattern, kind: 'read', handler: () => {} });

describe('router', () => {
  const router = new Router();
  for (const r of [route('GET', '/1/markers/:dataset'), route('POST', '/1/markers/:dataset'), route('GET', '/1/datasets'), route('GET', '/1/queries/:dataset/:id')]) {
    router.add(r);
  }

  it('matches a pattern whole and names its parameters', () => {
    const m = router.match('GET', '/1/queries/api/abc');
    expect(m && 'route' in m && m.route.pattern).toBe('/1/queries/:dataset/:id');
    expect(m && 'params' in m && m.params).toEqual({ dataset: 'api', id: 'abc' });
    expect(router.match('GET', '/1/queries/api')).toBeUndefined();
    expect(router.match('GET', '/1/datasets/extra/segments')).toBeUndefined();
  });

  it('tells which methods a known path accepts, and lets HEAD use GET', () => {
    expect(router.match('DELETE', '/1/markers/api')).toEqual({ allowed: ['GET', 'POST'] });
    const head = router.match('HEAD', '/1/datasets');
    expect(head && 'route' in head && head.route.method).toBe('GET');
  });
});
