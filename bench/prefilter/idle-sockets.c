/*
 * N idle packet sockets on one interface, each with the same kernel filter
 * (default: one that accepts nothing): what the kernel pays per frame for
 * every capture handle, its filter running on each frame even when it
 * rejects it. N sockets with a given filter against N reject-all sockets
 * amplify that filter's own cost above the run-to-run noise. With -u, also
 * M handles WITHOUT a filter that are never read (a handle left open by
 * mistake): the kernel offers them every frame, fills their ring, then
 * counts drops. Sockets are never read; use filters that reject the traffic.
 *
 *   idle-sockets -i IFACE -n N [-F FILTER] [-u M]
 *
 * stderr: "capturing" once all handles are open; exits on SIGTERM/SIGINT.
 */
#include <pcap/pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t done;

static void on_signal(int sig) { (void)sig; done = 1; }

int main(int argc, char **argv) {
	const char *dev = NULL, *filter = "ether proto 0xffff";
	int n = 0, unread = 0;
	char errbuf[PCAP_ERRBUF_SIZE];
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "-i")) dev = argv[i + 1];
		else if (!strcmp(argv[i], "-n")) n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-u")) unread = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "-F")) filter = argv[i + 1];
	}
	if (!dev || n < 0 || unread < 0 || n + unread < 1) { fprintf(stderr, "usage: %s -i IFACE -n N [-F FILTER] [-u M]\n", argv[0]); return 2; }
	pcap_t **handles = calloc((size_t)(n + unread), sizeof *handles);
	for (int i = 0; i < n; i++) {
		struct bpf_program prog;
		handles[i] = pcap_open_live(dev, 64, 0, 1000, errbuf);
		if (!handles[i]) { fprintf(stderr, "%s\n", errbuf); return 2; }
		if (pcap_compile(handles[i], &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 || pcap_setfilter(handles[i], &prog) != 0) {
			fprintf(stderr, "%s\n", pcap_geterr(handles[i]));
			return 2;
		}
		pcap_freecode(&prog);
	}
	for (int i = n; i < n + unread; i++) {
		/* As libpcap opens by default: full snap length, 2 MB ring, no filter. */
		handles[i] = pcap_create(dev, errbuf);
		if (!handles[i] || pcap_set_snaplen(handles[i], 262144) != 0 || pcap_set_buffer_size(handles[i], 2 * 1024 * 1024) != 0 ||
		    pcap_set_timeout(handles[i], 1000) != 0 || pcap_activate(handles[i]) < 0) {
			fprintf(stderr, "%s\n", handles[i] ? pcap_geterr(handles[i]) : errbuf);
			return 2;
		}
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	fprintf(stderr, "capturing\n");
	while (!done) pause();
	for (int i = 0; i < n + unread; i++) pcap_close(handles[i]);
	return 0;
}
