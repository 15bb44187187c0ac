/*
 * Benchmark peer: libpcap's pcap_offline_filter over packets held in memory,
 * one call per rule per packet, as the C bpfcountd does per captured packet.
 *
 *   filter-peer CAPTURE EXPRFILE MIN_SECONDS
 *
 * Prints "NS <ns per packet x rule> PASSES <n>" and then one line
 * "<packets> <bytes>" per expression for a single pass (to check that the
 * engine under test counted the same).
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct packet { struct pcap_pkthdr hdr; u_char *data; };

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	char errbuf[PCAP_ERRBUF_SIZE];
	if (argc != 4) { fprintf(stderr, "usage: %s CAPTURE EXPRFILE MIN_SECONDS\n", argv[0]); return 2; }
	pcap_t *p = pcap_open_offline(argv[1], errbuf);
	if (!p) { fprintf(stderr, "%s\n", errbuf); return 2; }
	struct packet *pkts = NULL;
	size_t npkts = 0, cap = 0;
	struct pcap_pkthdr *h; const u_char *d; int r;
	while ((r = pcap_next_ex(p, &h, &d)) == 1) {
		if (npkts == cap) { cap = cap ? cap * 2 : 4096; pkts = realloc(pkts, cap * sizeof *pkts); }
		pkts[npkts].hdr = *h;
		pkts[npkts].data = malloc(h->caplen ? h->caplen : 1);
		memcpy(pkts[npkts].data, d, h->caplen);
		npkts++;
	}

	FILE *list = fopen(argv[2], "r");
	if (!list) { perror(argv[2]); return 2; }
	struct bpf_program *progs = NULL;
	size_t nprogs = 0, pcap_ = 0;
	char *line = NULL; size_t linecap = 0; ssize_t n;
	while ((n = getline(&line, &linecap, list)) >= 0) {
		if (n > 0 && line[n - 1] == '\n') line[n - 1] = 0;
		if (nprogs == pcap_) { pcap_ = pcap_ ? pcap_ * 2 : 64; progs = realloc(progs, pcap_ * sizeof *progs); }
		/* Optimiser off: the meaning the daemon counts (and the C original's program). */
		if (pcap_compile(p, &progs[nprogs], line, 0, PCAP_NETMASK_UNKNOWN) == -1) {
			fprintf(stderr, "%s: %s\n", line, pcap_geterr(p));
			return 2;
		}
		nprogs++;
	}
	unsigned long long *packets = calloc(nprogs, sizeof *packets);
	unsigned long long *bytes = calloc(nprogs, sizeof *bytes);
	double min_seconds = atof(argv[3]);

	/* One warm-up pass, whose counts are the ones reported. */
	for (size_t i = 0; i < npkts; i++)
		for (size_t j = 0; j < nprogs; j++)
			if (pcap_offline_filter(&progs[j], &pkts[i].hdr, pkts[i].data)) { packets[j]++; bytes[j] += pkts[i].hdr.len; }

	unsigned long long sink = 0;
	size_t passes = 0;
	double start = now(), elapsed;
	do {
		for (size_t i = 0; i < npkts; i++)
			for (size_t j = 0; j < nprogs; j++)
				if (pcap_offline_filter(&progs[j], &pkts[i].hdr, pkts[i].data)) sink += pkts[i].hdr.len;
		passes++;
		elapsed = now() - start;
	} while (elapsed < min_seconds);

	printf("NS %.3f PASSES %zu SINK %llu\n", elapsed * 1e9 / ((double)passes * npkts * nprogs), passes, sink);
	for (size_t j = 0; j < nprogs; j++) printf("%llu %llu\n", packets[j], bytes[j]);
	return 0;
}
