/*
 * libpcap's per-packet answers, safe against filters that never return.
 *
 * libpcap 1.10.3 compiles `protochain` into a loop (a jump that wraps
 * backwards); its AH step sets the offset to (ahlen+2)*4 instead of adding it,
 * so a crafted IPv6 packet makes pcap_offline_filter spin forever. This is the
 * match mode of test/oracle/pcap-oracle.c with a time limit: an expression
 * that runs past it (in CPU time, so a busy machine does not trip it) is re-run
 * packet by packet with a per-packet limit, and
 * packets libpcap never finishes are reported as 'H' instead of 0/1.
 *
 *   loopsafe-oracle CAPTURE EXPRFILE [noopt]   per expression: "OK <0/1/H per packet>" | "ERR <msg>"
 *
 * "noopt" compiles without libpcap's optimizer (to tell optimizer effects apart).
 */
#include <pcap/pcap.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct packet { struct pcap_pkthdr hdr; u_char *data; };

static sigjmp_buf timed_out;

static void on_alarm(int sig) { (void)sig; siglongjmp(timed_out, 1); }

static void arm(long usec) {
	struct itimerval t = { { 0, 0 }, { usec / 1000000, usec % 1000000 } };
	setitimer(ITIMER_VIRTUAL, &t, NULL);
}

static void one_line(const char *msg) {
	for (const char *c = msg; *c; c++) putchar(*c == '\n' ? ' ' : *c);
	putchar('\n');
}

int main(int argc, char **argv) {
	char errbuf[PCAP_ERRBUF_SIZE];
	if (argc != 3 && argc != 4) { fprintf(stderr, "usage: %s CAPTURE EXPRFILE [noopt]\n", argv[0]); return 2; }
	int optimize = !(argc == 4 && strcmp(argv[3], "noopt") == 0);
	pcap_t *p = pcap_open_offline(argv[1], errbuf);
	if (!p) { fprintf(stderr, "%s\n", errbuf); return 2; }
	struct packet *pkts = NULL;
	size_t npkts = 0, cap = 0;
	struct pcap_pkthdr *h; const u_char *d; int r;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		if (npkts == cap) { cap = cap ? cap * 2 : 1024; pkts = realloc(pkts, cap * sizeof *pkts); }
		pkts[npkts].hdr = *h;
		pkts[npkts].data = malloc(h->caplen ? h->caplen : 1);
		memcpy(pkts[npkts].data, d, h->caplen);
		npkts++;
	}
	if (r == -1) { fprintf(stderr, "%s\n", pcap_geterr(p)); return 2; }
	FILE *list = strcmp(argv[2], "-") == 0 ? stdin : fopen(argv[2], "r");
	if (!list) { perror(argv[2]); return 2; }
	signal(SIGVTALRM, on_alarm);
	char *line = NULL; size_t linecap = 0; ssize_t n;
	char *bits = malloc(npkts + 1);
	while ((n = getline(&line, &linecap, list)) >= 0) {
		if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
		struct bpf_program prog;
		if (pcap_compile(p, &prog, line, optimize, PCAP_NETMASK_UNKNOWN) == -1) {
			printf("ERR "); one_line(pcap_geterr(p));
			fflush(stdout);
			continue;
		}
		/* volatile: modified between sigsetjmp and siglongjmp. */
		volatile size_t i = 0;
		volatile int per_packet = 0;
		if (sigsetjmp(timed_out, 1)) {
			if (!per_packet) { per_packet = 1; i = 0; }
			else { bits[i] = 'H'; i++; }
		}
		if (!per_packet) arm(500000);
		for (; i < npkts; i++) {
			if (per_packet) arm(20000);
			bits[i] = pcap_offline_filter(&prog, &pkts[i].hdr, pkts[i].data) != 0 ? '1' : '0';
		}
		arm(0);
		bits[npkts] = 0;
		printf("OK %s\n", bits);
		pcap_freecode(&prog);
		fflush(stdout);
	}
	return 0;
}
