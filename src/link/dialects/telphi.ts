/** TelPhi's own dialect: binary frames are audio, text frames JSON (docs/link-protocol.md). */
import { parseAgentMessage, type GatewayMessage } from '../protocol.js';
import type { Dialect, DialectInfo, Inbound } from './dialect.js';

export const TELPHI_INFO: DialectInfo = { resumable: true, provisioned: true };

export function telphiDialect(): Dialect {
  return {
    name: 'telphi',
    encodeAudio: (frame) => frame,
    encodeMessage: (message: GatewayMessage) => [JSON.stringify(message)],
    decode(data, isBinary): Inbound {
      if (isBinary) return { audio: data };
      const message = parseAgentMessage(data.toString('utf8'));
      return message && { message };
    },
    closeMeansHangup: () => false,
  };
}
