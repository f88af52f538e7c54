/** Parameters of the dns area (see config/declare.ts). */
import { declare } from '../declare.js';

export const dnsParams = declare([]);
