/*
 * The C bpfcountd's counting loop over a capture file, for the whole-process
 * comparison: pcap_open_offline, pcap_loop, pcap_offline_filter per rule per
 * packet, packet and wire-byte counters; prints "<id>:<bytes>:<packets>".
 *
 *   bpfcountd-c -r CAPTURE -f FILTERFILE [--mac aa:bb:cc:dd:ee:ff]
 *
 * Filter file: "<id>;<expr>" per line, '#' comments; $MAC is replaced.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rule { char *id; struct bpf_program prog; unsigned long long packets, bytes; };

static struct rule *rules;
static size_t nrules;

static char *replace_mac(const char *expr, const char *mac) {
	size_t len = strlen(expr) + 1, maclen = mac ? strlen(mac) : 0;
	for (const char *s = strstr(expr, "$MAC"); s; s = strstr(s + 4, "$MAC")) len += maclen + 2;
	char *out = malloc(len), *o = out;
	for (const char *s = expr; *s;) {
		if (strncmp(s, "$MAC", 4) == 0) {
			if (!mac) { fprintf(stderr, "$MAC used without --mac\n"); exit(2); }
			o += sprintf(o, "(%s)", mac);
			s += 4;
		} else *o++ = *s++;
	}
	*o = 0;
	return out;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data) {
	(void)user;
	for (size_t i = 0; i < nrules; i++) {
		if (pcap_offline_filter(&rules[i].prog, h, data)) {
			rules[i].packets++;
			rules[i].bytes += h->len;
		}
	}
}

int main(int argc, char **argv) {
	const char *file = NULL, *filters = NULL, *mac = NULL;
	char errbuf[PCAP_ERRBUF_SIZE];
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "-r") == 0) file = argv[i + 1];
		else if (strcmp(argv[i], "-f") == 0) filters = argv[i + 1];
		else if (strcmp(argv[i], "--mac") == 0) mac = argv[i + 1];
	}
	if (!file || !filters) { fprintf(stderr, "usage: %s -r CAPTURE -f FILTERFILE [--mac MAC]\n", argv[0]); return 2; }
	pcap_t *p = pcap_open_offline(file, errbuf);
	if (!p) { fprintf(stderr, "%s\n", errbuf); return 2; }
	FILE *f = fopen(filters, "r");
	if (!f) { perror(filters); return 2; }
	char *line = NULL; size_t cap = 0, rcap = 0; ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
		char *s = line;
		while (*s == ' ' || *s == '\t') s++;
		if (*s == 0 || *s == '#') continue;
		char *semi = strchr(s, ';');
		if (!semi) { fprintf(stderr, "bad line: %s\n", line); return 2; }
		*semi = 0;
		if (nrules == rcap) { rcap = rcap ? rcap * 2 : 32; rules = realloc(rules, rcap * sizeof *rules); }
		struct rule *r = &rules[nrules];
		memset(r, 0, sizeof *r);
		r->id = strdup(s);
		char *expr = replace_mac(semi + 1, mac);
		/* As the C original's filters.c: optimiser off. */
		if (pcap_compile(p, &r->prog, expr, 0, PCAP_NETMASK_UNKNOWN) == -1) {
			fprintf(stderr, "%s: %s\n", r->id, pcap_geterr(p));
			return 2;
		}
		free(expr);
		nrules++;
	}
	if (pcap_loop(p, -1, on_packet, NULL) == -1) { fprintf(stderr, "%s\n", pcap_geterr(p)); return 2; }
	for (size_t i = 0; i < nrules; i++) printf("%s:%llu:%llu\n", rules[i].id, rules[i].bytes, rules[i].packets);
	return 0;
}
