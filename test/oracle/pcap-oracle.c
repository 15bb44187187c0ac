/*
 * Test oracle: asks Debian's libpcap (never the code under test) what a
 * filter expression matches. Optimisation OFF (pcap_compile(..., 0, ...),
 * `tcpdump -O`), netmask unknown: the meaning the C original counted and the
 * daemon counts. The "-opt" modes compile with the optimiser, for
 * information only (libpcap's optimiser has bugs; it is never the expected value).
 *
 *   pcap-oracle count       CAPTURE EXPRFILE   per expression: "OK <packets> <wirebytes>" | "ERR <msg>"
 *   pcap-oracle match       CAPTURE EXPRFILE   per expression: "OK <0/1/H per packet>"   | "ERR <msg>"
 *   pcap-oracle compile     DLT     EXPRFILE   per expression: "OK <instructions>"       | "ERR <msg>"
 *   pcap-oracle count-opt | match-opt | compile-opt   the same with libpcap's optimiser
 *   pcap-oracle match-noopt CAPTURE EXPRFILE   = match (older name)
 *   pcap-oracle records     CAPTURE            "DLT <n>", per packet "<caplen> <len> <hex>", then "END" | "ERR <msg>"
 *
 * EXPRFILE holds one expression per line ("-" reads stdin).
 *
 * libpcap 1.10.3 compiles `protochain` into a loop whose AH step sets the
 * offset instead of adding to it, so a crafted IPv6 packet makes
 * pcap_offline_filter spin forever. Every evaluation therefore runs under a
 * CPU-time limit: an expression that exceeds it is re-run packet by packet
 * with a per-packet limit, and a packet libpcap never finishes is 'H' in
 * match mode (count mode reports it as an error).
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

/* CPU time (ITIMER_VIRTUAL), so a busy machine does not trip it. */
static void arm(long usec) {
	struct itimerval t = { { 0, 0 }, { usec / 1000000, usec % 1000000 } };
	setitimer(ITIMER_VIRTUAL, &t, NULL);
}

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

/* bits[i] = '0', '1' or 'H' (libpcap did not finish) for every packet. */
static void evaluate(const struct bpf_program *prog, const struct packet *pkts, size_t npkts, char *bits) {
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
		bits[i] = pcap_offline_filter(prog, &pkts[i].hdr, pkts[i].data) != 0 ? '1' : '0';
	}
	arm(0);
	bits[npkts] = 0;
}

/* What libpcap's reader hands over, packet by packet, and how it ends. */
static int records(const char *path) {
	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_open_offline(path, errbuf);
	if (!p) { printf("OPEN-ERR "); one_line(errbuf); return 0; }
	printf("DLT %d\n", pcap_datalink(p));
	struct pcap_pkthdr *h; const u_char *d; int r;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		printf("%u %u ", h->caplen, h->len);
		for (bpf_u_int32 i = 0; i < h->caplen; i++) printf("%02x", d[i]);
		putchar('\n');
	}
	if (r == -1) { printf("ERR "); one_line(pcap_geterr(p)); }
	else printf("END\n");
	return 0;
}

int main(int argc, char **argv) {
	char errbuf[PCAP_ERRBUF_SIZE];
	if (argc == 3 && strcmp(argv[1], "records") == 0) return records(argv[2]);
	if (argc != 4) { fprintf(stderr, "usage: %s count|match|compile[-opt]|match-noopt CAPTURE|DLT EXPRFILE\n", argv[0]); return 2; }
	/* "match-opt" -> mode "match", optimised; "match-noopt" -> "match". */
	char mode[32];
	snprintf(mode, sizeof mode, "%s", argv[1]);
	int optimize = 0;
	size_t ml = strlen(mode);
	if (ml > 4 && strcmp(mode + ml - 4, "-opt") == 0) { optimize = 1; mode[ml - 4] = 0; }
	else if (ml > 6 && strcmp(mode + ml - 6, "-noopt") == 0) mode[ml - 6] = 0;
	if (strcmp(mode, "count") != 0 && strcmp(mode, "match") != 0 && strcmp(mode, "compile") != 0) {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
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

	signal(SIGVTALRM, on_alarm);
	FILE *list = open_list(argv[3]);
	char *line = NULL; size_t linecap = 0; char *expr;
	char *bits = malloc(npkts + 1);
	while ((expr = next_expr(list, &line, &linecap)) != NULL) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, expr, optimize, PCAP_NETMASK_UNKNOWN) == -1) {
			printf("ERR "); one_line(pcap_geterr(p));
			fflush(stdout);
			continue;
		}
		if (strcmp(mode, "compile") == 0) {
			printf("OK %u\n", prog.bf_len);
		} else {
			evaluate(&prog, pkts, npkts, bits);
			if (strcmp(mode, "count") == 0) {
				unsigned long long packets = 0, bytes = 0;
				const char *hung = strchr(bits, 'H');
				for (size_t i = 0; i < npkts; i++) if (bits[i] == '1') { packets++; bytes += pkts[i].hdr.len; }
				if (hung) printf("ERR libpcap does not finish on packet %zu\n", (size_t)(hung - bits));
				else printf("OK %llu %llu\n", packets, bytes);
			} else {
				printf("OK %s\n", bits);
			}
		}
		pcap_freecode(&prog);
		fflush(stdout);
	}
	return 0;
}
