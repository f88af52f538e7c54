/** Parameters of the delivery area (see config/declare.ts). */
import { declare } from '../declare.js';

export const deliveryParams = declare([]);
