import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { parseCalculation, parseDuration, parseFilter, parseHaving, parseOrder, timeRange } from '../src/query-syntax.js';

describe('query flags become a Honeycomb query spec', () => {
  it('calculations with and without a column', () => {
    expect(parseCalculation('COUNT')).toEqual({ op: 'COUNT' });
    expect(parseCalculation('p99(duration_ms)')).toEqual({ op: 'P99', column: 'duration_ms' });
    expect(parseCalculation('HEATMAP(duration_ms)')).toEqual({ op: 'HEATMAP', column: 'duration_ms' });
  });

  it('a calculation that is unknown, missing its column or given one it does not take is a usage error naming the rule', () => {
    expect(() => parseCalculation('P42(duration_ms)')).toThrow(/OP one of COUNT/);
    expect(() => parseCalculation('AVG')).toThrow(/AVG needs a column/);
    expect(() => parseCalculation('COUNT(x)')).toThrow(/COUNT takes no column/);
    expect(() => parseCalculation('P99(duration_ms')).toThrow(UsageError);
  });

  it('filters: comparison, word operators, unary and lists, with typed values', () => {
    expect(parseFilter('http.response.status_code >= 500')).toEqual({ column: 'http.response.status_code', op: '>=', value: 500 });
    expect(parseFilter('service.name=api')).toEqual({ column: 'service.name', op: '=', value: 'api' });
    expect(parseFilter('error = true')).toEqual({ column: 'error', op: '=', value: true });
    expect(parseFilter('http.route != "/health"')).toEqual({ column: 'http.route', op: '!=', value: '/health' });
    expect(parseFilter('name contains "slow query"')).toEqual({ column: 'name', op: 'contains', value: 'slow query' });
    expect(parseFilter('name does-not-start-with GET')).toEqual({ column: 'name', op: 'does-not-start-with', value: 'GET' });
    expect(parseFilter('error exists')).toEqual({ column: 'error', op: 'exists' });
    expect(parseFilter('db.system.name does-not-exist')).toEqual({ column: 'db.system.name', op: 'does-not-exist' });
    expect(parseFilter('http.route in /a,/b, "/c d"')).toEqual({ column: 'http.route', op: 'in', value: ['/a', '/b', '/c d'] });
    expect(parseFilter('status not-in 500,503')).toEqual({ column: 'status', op: 'not-in', value: [500, 503] });
    expect(parseFilter("version = '42'")).toEqual({ column: 'version', op: '=', value: '42' });
  });

  it('a malformed --where is a usage error that lists the accepted operators', () => {
    expect(() => parseFilter('duration_ms')).toThrow(/expected "COLUMN OP VALUE".*>=/);
    expect(() => parseFilter('duration_ms >')).toThrow(UsageError);
    expect(() => parseFilter('error exists now')).toThrow(/exists takes no value/);
  });

  it('orders default to descending for calculations and ascending for columns', () => {
    expect(parseOrder('P99(duration_ms)')).toEqual({ op: 'P99', column: 'duration_ms', order: 'descending' });
    expect(parseOrder('COUNT:asc')).toEqual({ op: 'COUNT', order: 'ascending' });
    expect(parseOrder('http.route')).toEqual({ column: 'http.route', order: 'ascending' });
    expect(parseOrder('http.route:desc')).toEqual({ column: 'http.route', order: 'descending' });
  });

  it('havings compare a calculation with a number', () => {
    expect(parseHaving('COUNT > 10')).toEqual({ calculate_op: 'COUNT', op: '>', value: 10 });
    expect(parseHaving('P99(duration_ms) >= 250.5')).toEqual({ calculate_op: 'P99', column: 'duration_ms', op: '>=', value: 250.5 });
    expect(() => parseHaving('COUNT big')).toThrow(/CALC OP NUMBER/);
  });

  it('time flags: --since as a relative range, --from/--to as absolute, never both', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('90s')).toBe(90);
    expect(() => parseDuration('30 minutes')).toThrow(/like 90s, 30m/);
    expect(timeRange({ since: '15m' })).toEqual({ time_range: 900 });
    expect(timeRange({})).toEqual({ time_range: 7200 });
    expect(timeRange({ from: '2026-11-26T04:00:00Z', to: '2026-11-26T05:00:00Z' })).toEqual({ start_time: 1795665600, end_time: 1795669200 });
    expect(() => timeRange({ since: '5m', from: '2026-11-26T04:00:00Z' })).toThrow(/either --since or --from/);
    expect(() => timeRange({ from: '2026-11-26T05:00:00Z', to: '2026-11-26T04:00:00Z' })).toThrow(/--to must be after --from/);
  });
});
