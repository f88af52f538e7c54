/** Parameters of the queue area (see config/declare.ts). */
import { declare } from '../declare.js';

export const queueParams = declare([]);
