// A real in-process SDK for the API tests: spans end up in an in-memory exporter.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

export function startTestSdk(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  return exporter;
}

/**
 * Applies a standard (TC39) method decorator the way the compiled `@decorator` syntax does. vitest's
 * transformer does not lower standard decorators, so tests call the decorator through this instead.
 */
export function applyMethodDecorator<C extends { prototype: object }>(
  cls: C,
  name: string,
  decorator: (method: any, context: ClassMethodDecoratorContext) => any,
): void {
  const proto = cls.prototype as Record<string, unknown>;
  const decoratorContext = {
    kind: 'method',
    name,
    static: false,
    private: false,
    access: { has: (o: object) => name in o, get: (o: any) => o[name] },
    addInitializer() {},
    metadata: {},
  } as unknown as ClassMethodDecoratorContext;
  proto[name] = decorator(proto[name], decoratorContext);
}
