import test from 'node:test';
import assert from 'node:assert/strict';
import { problemOf, describeMediaProblems } from './media.js';

const err = (name) => Object.assign(new Error(name), { name });

test('problemOf classifies getUserMedia errors', () => {
  assert.equal(problemOf(err('NotAllowedError')), 'denied');
  assert.equal(problemOf(err('NotFoundError')), 'missing');
  assert.equal(problemOf(err('OverconstrainedError')), 'missing');
  assert.equal(problemOf(err('NotReadableError')), 'busy');
  assert.equal(problemOf(err('InsecureContext')), 'insecure');
  assert.equal(problemOf(err('TypeError')), 'error');
  assert.equal(problemOf(undefined), 'error');
});

test('describeMediaProblems says what happened and what it means', () => {
  assert.equal(describeMediaProblems({ cam: null, mic: null }), '');
  assert.match(describeMediaProblems({ cam: 'denied', mic: null }), /^Your camera is blocked for this site, so you are in the call with audio only\. To change that/);
  assert.match(describeMediaProblems({ cam: 'missing', mic: null }), /^Your camera was not found, so you are in the call with audio only\.$/);
  assert.match(describeMediaProblems({ cam: null, mic: 'busy' }), /^Your microphone is in use by another application, so others can see you but not hear you\.$/);
  assert.match(describeMediaProblems({ cam: 'denied', mic: 'denied' }), /^Your camera and microphone are blocked for this site, so you are in the call to watch and listen only\./);
  assert.match(describeMediaProblems({ cam: 'missing', mic: 'missing' }), /^Your camera and microphone were not found, so you are in the call to watch and listen only\.$/);
  assert.match(describeMediaProblems({ cam: 'missing', mic: 'denied' }), /^Your camera was not found and your microphone is blocked for this site, so you are in the call to watch and listen only\./);
});
