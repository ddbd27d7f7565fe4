// The two WHATWG encoding classes core uses; present in every browser and in Node. Declared here
// because core compiles without DOM or Node typings, so that neither can creep in.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
