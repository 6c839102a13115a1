import { describe, expect, it } from '@jest/globals';
import { API_VERSION, CRD_NAME } from '../../src/api/constants.js';

describe('api constants', () => {
  it('compose the apiVersion and CRD name from group, version and plural', () => {
    expect(API_VERSION).toBe('regcred.io/v1alpha1');
    expect(CRD_NAME).toBe('registrycredentials.regcred.io');
  });
});
