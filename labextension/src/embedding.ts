import type { IFocusedNotebook } from './current';
import type { OpenNotebook } from './notebooks';

/** Every postMessage this extension sends or accepts has a type starting with this. */
export const MESSAGE_PREFIX = 'jupyter-mcp:';

/** A message from the embedding page. */
interface IParentRequest {
  type: string;
  requestId?: unknown;
  path?: unknown;
}

/**
 * The postMessage channel with the page that embeds JupyterLab: only allowed origins are
 * heard, and messages go to a known origin, never '*'.
 */
export class EmbeddingChannel {
  private readonly allowed: Set<string>;
  private parentOrigin: string | null;

  constructor(allowedOrigins: string[]) {
    this.allowed = new Set([window.location.origin, ...allowedOrigins]);
    this.parentOrigin = this.detectParentOrigin();
  }

  tellParent(message: object): void {
    if (this.parentOrigin) {
      window.parent.postMessage(message, this.parentOrigin);
    }
  }

  listen(
    handle: (request: IParentRequest) => Promise<object>
  ): void {
    window.addEventListener('message', event => {
      const request = event.data as IParentRequest;
      if (
        !this.allowed.has(event.origin) ||
        typeof request?.type !== 'string' ||
        !request.type.startsWith(MESSAGE_PREFIX) ||
        !event.source
      ) {
        return;
      }
      if (event.source === window.parent) {
        this.parentOrigin = event.origin;
      }
      const source = event.source as Window;
      void handle(request).then(reply =>
        source.postMessage(
          {
            type: `${MESSAGE_PREFIX}result`,
            request: request.type.slice(MESSAGE_PREFIX.length),
            requestId: request.requestId ?? null,
            ...reply
          },
          event.origin
        )
      );
    });
  }

  private detectParentOrigin(): string | null {
    if (window.parent === window) {
      return null;
    }
    const ancestors = window.location.ancestorOrigins;
    let origin: string | null = null;
    if (ancestors && ancestors.length > 0) {
      origin = ancestors[0];
    } else if (document.referrer) {
      origin = new URL(document.referrer).origin;
    }
    return origin && this.allowed.has(origin) ? origin : null;
  }
}

/** Embedding page → this window: it may ask which notebook is in focus, and open one. */
export function answerEmbeddingPage(
  channel: EmbeddingChannel,
  focused: IFocusedNotebook,
  openNotebook: OpenNotebook
): void {
  channel.listen(async request => {
    const action = request.type.slice(MESSAGE_PREFIX.length);
    if (action === 'get-active-notebook') {
      return { ok: true, path: focused.path };
    }
    if (action !== 'open-notebook') {
      return {
        ok: false,
        error: `Unknown request ${request.type}; valid: ${MESSAGE_PREFIX}open-notebook, ${MESSAGE_PREFIX}get-active-notebook`
      };
    }
    if (typeof request.path !== 'string' || !request.path) {
      return { ok: false, error: "open-notebook needs a 'path' (relative to the server root)" };
    }
    try {
      await openNotebook(request.path);
      return { ok: true, path: request.path };
    } catch (reason) {
      return { ok: false, path: request.path, error: `Cannot open ${request.path}: ${reason}` };
    }
  });
}
