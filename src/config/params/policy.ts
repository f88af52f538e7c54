/** Parameters of the policy area (see config/declare.ts). */
import { declare } from '../declare.js';

export const policyParams = declare([]);
