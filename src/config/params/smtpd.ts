/** Parameters of the smtpd area (see config/declare.ts). */
import { declare } from '../declare.js';

export const smtpdParams = declare([]);
