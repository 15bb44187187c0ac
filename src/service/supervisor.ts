/**
 * The set of served instances: start, reload (SIGHUP, ubus, init script),
 * hot-plug polling, stop. Reload keeps counters of unchanged rules; a new
 * configuration with an error is reported and the running one stays as it is.
 */
import { dirname } from 'node:path';
import { files } from '../files';
import { interfaceLinkType, interfaceMac } from '../capture/interface';
import { ExpressionChecker } from '../capture/validate';
import { traceStartup } from '../startup-trace';
import { checkRules, checkSaved } from './check';
import {
  UnknownInstanceError, type CheckReply, type CheckRequest, type DaemonControl, type InstanceRules, type InstanceStats,
  type RulesReply, type StatsReply,
} from './model';
import { ServedInstance, validateSpec, type ServedSpec } from './served-instance';

export interface SupervisorOptions {
  /**
   * Reads the configuration; throws ConfigError (file:line) when it is invalid.
   * `warn` replaces the log for non-fatal problems (a check passes a silent one).
   */
  loadSpecs: (warn?: (message: string) => void) => ServedSpec[];
  log: (message: string) => void;
  hotplug: boolean;
  /** A fatal problem in a mode without hot-plug. */
  onFatal: (err: unknown) => void;
  /** A reload read and checked the configuration (the last loadSpecs()) and applies it. */
  onReloadAccepted?: () => void;
}

const POLL_MS = 1000;

export class Supervisor implements DaemonControl {
  private readonly instances = new Map<string, ServedInstance>();
  private readonly checker = new ExpressionChecker();
  private timer?: NodeJS.Timeout;
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: SupervisorOptions) {}

  /** Throws when the configuration is invalid or a socket cannot be created. */
  async start(): Promise<void> {
    const specs = this.options.loadSpecs();
    traceStartup('configuration read');
    await this.checker.inPass(async () => {
      for (const spec of specs) await this.add(spec);
    });
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const instance of this.instances.values()) instance.stop();
    this.instances.clear();
  }

  /** Queued: reloads never overlap. */
  reload(): void {
    this.reloading = this.reloading.then(() => this.checker.inPass(() => this.reloadNow())).catch((err: unknown) => {
      this.options.log(`reload failed: ${err instanceof Error ? err.message : String(err)}`);
    });
  }

  /** Resolves when every queued reload is done (for tests and the init script's wait). */
  settled(): Promise<void> {
    return this.reloading;
  }

  stats(name?: string): StatsReply {
    return this.collect(name, (instance) => instance.stats());
  }

  rules(name?: string): RulesReply {
    return this.collect(name, (instance) => instance.rulesInfo());
  }

  check(request: CheckRequest): CheckReply {
    if (request.rules === undefined) {
      // The saved file may differ from what runs: a refused reload leaves the previous rules counting.
      return {
        config: checkSaved(() => {
          for (const spec of this.options.loadSpecs(() => undefined)) {
            const running = this.instances.get(spec.name);
            if (running) running.validate(spec);
            else validateSpec(spec, undefined, this.checker);
          }
        }),
      };
    }
    return checkRules({ ...request, rules: request.rules }, {
      libpcap: (expr, linkType) => this.checker.check(expr, linkType),
      linkType: interfaceLinkType,
      mac: interfaceMac,
    });
  }

  names(): string[] {
    return [...this.instances.keys()];
  }

  private collect<T extends InstanceStats | InstanceRules>(name: string | undefined, get: (i: ServedInstance) => T): Record<string, T> {
    // No prototype: a section may be named __proto__ (a valid UCI name), which a plain {} would swallow.
    const reply = Object.create(null) as Record<string, T>;
    if (name !== undefined) {
      const instance = this.instances.get(name);
      if (!instance) throw new UnknownInstanceError(name);
      reply[name] = get(instance);
      return reply;
    }
    for (const [key, instance] of this.instances) reply[key] = get(instance);
    return reply;
  }

  private poll(): void {
    for (const instance of this.instances.values()) instance.poll();
  }

  private async add(spec: ServedSpec): Promise<void> {
    files().makeDir(dirname(spec.socketPath), true);
    const instance = new ServedInstance(spec, {
      checker: this.checker, log: this.options.log, hotplug: this.options.hotplug, onFatal: this.options.onFatal,
    });
    this.instances.set(spec.name, instance);
    await instance.start();
    traceStartup(`section ${spec.name} started`);
  }

  private async reloadNow(): Promise<void> {
    let specs: ServedSpec[];
    try {
      specs = this.options.loadSpecs();
    } catch (err) {
      this.options.log(`reload refused, configuration unchanged: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const wanted = new Map(specs.map((spec) => [spec.name, spec]));
    const changed = specs.filter((spec) => {
      const running = this.instances.get(spec.name);
      return running !== undefined && JSON.stringify(running.spec) !== JSON.stringify(spec);
    });
    // Check every changed or new rule set with libpcap before anything is touched.
    try {
      for (const spec of changed) this.instances.get(spec.name)?.validate(spec);
      for (const spec of specs) if (!this.instances.has(spec.name)) validateSpec(spec, undefined, this.checker);
    } catch (err) {
      this.options.log(`reload refused, configuration unchanged: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.options.onReloadAccepted?.();
    for (const [name, instance] of this.instances) {
      if (wanted.has(name)) continue;
      instance.stop();
      this.instances.delete(name);
      this.options.log(`${name}: removed`);
    }
    for (const spec of changed) {
      files().makeDir(dirname(spec.socketPath), true);
      await this.instances.get(spec.name)?.update(spec);
      this.options.log(`${spec.name}: reloaded`);
    }
    for (const spec of specs) {
      if (!this.instances.has(spec.name)) {
        await this.add(spec);
        this.options.log(`${spec.name}: added`);
      }
    }
  }
}
