/*
 * Test oracle: asks Debian's libpcap (never the code under test) what a
 * filter expression matches. Optimisation on, netmask unknown, as the daemon.
 *
 *   pcap-oracle count   CAPTURE EXPRFILE   per expression: "OK <packets> <wirebytes>" | "ERR <msg>"
 *   pcap-oracle match   CAPTURE EXPRFILE   per expression: "OK <0/1 per packet>"     | "ERR <msg>"
 *   pcap-oracle compile DLT     EXPRFILE   per expression: "OK <instructions>"       | "ERR <msg>"
 *
 * EXPRFILE holds one expression per line ("-" reads stdin).
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct packet { struct pcap_pkthdr hdr; u_char *data; };

static FILE *open_list(const char *path) {
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) { perror(path); exit(2); }
	return f;
}

static char *next_expr(FILE *f, char **line, size_t *cap) {
	ssize_t n = getline(line, cap, f);
	if (n < 0) return NULL;
	if (n > 0 && (*line)[n - 1] == '\n') (*line)[n - 1] = 0;
	return *line;
}

static void one_line(const char *msg) {
	for (const char *c = msg; *c; c++) putchar(*c == '\n' ? ' ' : *c);
	putchar('\n');
}

int main(int argc, char **argv) {
	char errbuf[PCAP_ERRBUF_SIZE];
	if (argc != 4) { fprintf(stderr, "usage: %s count|match|compile CAPTURE|DLT EXPRFILE\n", argv[0]); return 2; }
	const char *mode = argv[1];
	pcap_t *p;
	struct packet *pkts = NULL;
	size_t npkts = 0, cap = 0;

	if (strcmp(mode, "compile") == 0) {
		p = pcap_open_dead(atoi(argv[2]), 262144);
	} else {
		p = pcap_open_offline(argv[2], errbuf);
		if (!p) { fprintf(stderr, "%s\n", errbuf); return 2; }
		struct pcap_pkthdr *h; const u_char *d; int r;
		while ((r = pcap_next_ex(p, &h, &d)) == 1) {
			if (npkts == cap) { cap = cap ? cap * 2 : 1024; pkts = realloc(pkts, cap * sizeof *pkts); }
			pkts[npkts].hdr = *h;
			pkts[npkts].data = malloc(h->caplen ? h->caplen : 1);
			memcpy(pkts[npkts].data, d, h->caplen);
			npkts++;
		}
		if (r == -1) { fprintf(stderr, "%s\n", pcap_geterr(p)); return 2; }
	}

	FILE *list = open_list(argv[3]);
	char *line = NULL; size_t linecap = 0; char *expr;
	char *bits = malloc(npkts + 1);
	while ((expr = next_expr(list, &line, &linecap)) != NULL) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == -1) {
			printf("ERR "); one_line(pcap_geterr(p));
			continue;
		}
		if (strcmp(mode, "compile") == 0) {
			printf("OK %u\n", prog.bf_len);
		} else {
			unsigned long long packets = 0, bytes = 0;
			for (size_t i = 0; i < npkts; i++) {
				int m = pcap_offline_filter(&prog, &pkts[i].hdr, pkts[i].data) != 0;
				bits[i] = m ? '1' : '0';
				if (m) { packets++; bytes += pkts[i].hdr.len; }
			}
			bits[npkts] = 0;
			if (strcmp(mode, "count") == 0) printf("OK %llu %llu\n", packets, bytes);
			else printf("OK %s\n", bits);
		}
		pcap_freecode(&prog);
		fflush(stdout);
	}
	return 0;
}
