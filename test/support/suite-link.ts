/** One silent veth link for a whole describe() block of live tests. */
import { after, before } from 'node:test';
import { createLink, destroyLink, type VethLink } from './netns';
import { ensureOracle } from './oracle';
import { requireLiveEnvironment } from './root';

/** Registers the suite's before/after hooks; call the result inside a test to get the link. */
export function suiteLink(): () => VethLink {
  let link: VethLink | undefined;
  before(() => {
    requireLiveEnvironment();
    ensureOracle();
    link = createLink();
  });
  after(() => {
    if (link) destroyLink(link);
  });
  return () => {
    if (!link) throw new Error('no veth link (the suite setup failed)');
    return link;
  };
}
