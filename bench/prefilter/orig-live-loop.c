/*
 * The C bpfcountd's live capture loop, for the prefilter benchmark: one
 * pcap_open_live handle with the original's settings (snap length BUFSIZ,
 * promiscuous, 1000 ms timeout) and NO kernel filter, so every frame is
 * copied to user space; each frame is then tested against every rule with
 * pcap_offline_filter. Runs until SIGTERM/SIGINT, then prints libpcap's
 * statistics and the counters.
 *
 *   orig-live-loop -i IFACE -f FILTERFILE --mac aa:bb:cc:dd:ee:ff
 *
 * stderr: "capturing" once the handle is open; at exit
 * "stats recv <n> drop <n> ifdrop <n>". stdout: "<id>:<bytes>:<packets>".
 */
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule { char *id; struct bpf_program prog; unsigned long long packets, bytes; };

static struct rule *rules;
static size_t nrules;
static pcap_t *handle;

static void on_signal(int sig) {
	(void)sig;
	pcap_breakloop(handle);
}

/* $MAC -> "(mac)", as the daemons expand it. */
static char *expand_mac(const char *expr, const char *mac) {
	size_t need = strlen(expr) + 1;
	for (const char *s = strstr(expr, "$MAC"); s; s = strstr(s + 4, "$MAC")) need += strlen(mac) + 2;
	char *out = malloc(need), *o = out;
	while (*expr) {
		if (strncmp(expr, "$MAC", 4) == 0) { o += sprintf(o, "(%s)", mac); expr += 4; }
		else *o++ = *expr++;
	}
	*o = 0;
	return out;
}

static void count(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
	(void)user;
	for (size_t i = 0; i < nrules; i++) {
		if (pcap_offline_filter(&rules[i].prog, h, bytes)) {
			rules[i].packets++;
			rules[i].bytes += h->len;
		}
	}
}

static void load_rules(const char *path, const char *mac) {
	FILE *f = fopen(path, "r");
	if (!f) { perror(path); exit(2); }
	char *line = NULL;
	size_t cap = 0, room = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
		if (line[0] == 0 || line[0] == '#') continue;
		char *sep = strchr(line, ';');
		if (!sep) { fprintf(stderr, "no ';' in: %s\n", line); exit(2); }
		*sep = 0;
		if (nrules == room) { room = room ? 2 * room : 64; rules = realloc(rules, room * sizeof *rules); }
		struct rule *r = &rules[nrules++];
		memset(r, 0, sizeof *r);
		r->id = strdup(line);
		char *expr = expand_mac(sep + 1, mac);
		/* As the C original's filters.c: optimiser off. */
		if (pcap_compile(handle, &r->prog, expr, 0, PCAP_NETMASK_UNKNOWN) != 0) {
			fprintf(stderr, "%s: %s\n", r->id, pcap_geterr(handle));
			exit(2);
		}
		free(expr);
	}
	free(line);
	fclose(f);
}

int main(int argc, char **argv) {
	const char *dev = NULL, *file = NULL, *mac = NULL;
	char errbuf[PCAP_ERRBUF_SIZE];
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-i")) dev = argv[i + 1];
		else if (!strcmp(argv[i], "-f")) file = argv[i + 1];
		else if (!strcmp(argv[i], "--mac")) mac = argv[i + 1];
	}
	if (!dev || !file || !mac) { fprintf(stderr, "usage: %s -i IFACE -f FILTERFILE --mac MAC\n", argv[0]); return 2; }
	handle = pcap_open_live(dev, BUFSIZ, 1, 1000, errbuf);
	if (!handle) { fprintf(stderr, "%s\n", errbuf); return 2; }
	load_rules(file, mac);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "capturing\n");
	int rc = pcap_loop(handle, -1, count, NULL);
	if (rc == PCAP_ERROR) { fprintf(stderr, "%s\n", pcap_geterr(handle)); return 1; }
	struct pcap_stat st;
	if (pcap_stats(handle, &st) == 0) fprintf(stderr, "stats recv %u drop %u ifdrop %u\n", st.ps_recv, st.ps_drop, st.ps_ifdrop);
	for (size_t i = 0; i < nrules; i++) printf("%s:%llu:%llu\n", rules[i].id, rules[i].bytes, rules[i].packets);
	pcap_close(handle);
	return 0;
}
