/*
 * Guest-side helper of test/cross/system.sh, built statically for the target
 * (busybox has neither packet sockets nor unix-socket clients). Never part of
 * the daemon.
 *
 *   probe send IFACE KIND COUNT LEN   send COUNT frames of LEN bytes out of IFACE:
 *                                     arp  = ARP request to ff:ff:ff:ff:ff:ff
 *                                     udp9 = IPv4 UDP to port 9, ff:ff:ff:ff:ff:ff
 *                                     warm = EtherType 0x88b5 to 02:00:00:00:00:02
 *   probe read SOCKET                 print what a counter socket answers
 *   probe start [-s SOCKET]... [-t IFACE]... [-k KIND] [-w SECONDS] -- CMD ARG...
 *                                     exec CMD (left running, its stdout on our stderr); every 50 ms send one
 *                                     KIND frame (default arp) of 60 bytes out of each IFACE and
 *                                     poll each SOCKET; print
 *                                     "START pid=P socket_ms=A count_ms=B"
 *                                     (ms from just before exec until every socket
 *                                     answered / every socket shows a counted packet)
 *   probe time -- CMD ARG...          run CMD, print "TIME ms=T status=S"
 *   probe settle PID                  wait until VmRSS of PID has not changed for
 *                                     3 s (at most 90 s), print "STATUS pid=P
 *                                     VmHWM=.. VmRSS=.. RssAnon=.. RssFile=.." (kB)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
	fprintf(stderr, "probe: %s: %s\n", what, strerror(errno));
	exit(2);
}

static long long now_ms(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&t, &t) == -1 && errno == EINTR) {}
}

struct sender { int fd; struct sockaddr_ll to; };

static void open_sender(struct sender *s, const char *iface) {
	s->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: sends, receives nothing */
	if (s->fd < 0) die("socket(AF_PACKET)");
	memset(&s->to, 0, sizeof s->to);
	s->to.sll_family = AF_PACKET;
	s->to.sll_ifindex = (int)if_nametoindex(iface);
	if (s->to.sll_ifindex == 0) die(iface);
	s->to.sll_halen = 6;
}

/* A frame of exactly len bytes (zero padded). */
static size_t make_frame(unsigned char *f, const char *kind, size_t len) {
	static const unsigned char bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const unsigned char src[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	static const unsigned char uni[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	memset(f, 0, len);
	memcpy(f + 6, src, 6);
	if (strcmp(kind, "arp") == 0) {
		if (len < 42) return 0;
		memcpy(f, bcast, 6);
		f[12] = 0x08; f[13] = 0x06;
		const unsigned char arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 10, 9, 9, 1,
			0, 0, 0, 0, 0, 0, 10, 9, 9, 9 };
		memcpy(f + 14, arp, sizeof arp);
	} else if (strcmp(kind, "udp9") == 0) {
		if (len < 42) return 0;
		memcpy(f, bcast, 6);
		f[12] = 0x08; f[13] = 0x00;
		unsigned char *ip = f + 14;
		size_t iplen = len - 14;
		ip[0] = 0x45; ip[2] = (unsigned char)(iplen >> 8); ip[3] = (unsigned char)iplen;
		ip[8] = 64; ip[9] = 17;
		ip[12] = 10; ip[13] = 9; ip[14] = 9; ip[15] = 1;
		ip[16] = 255; ip[17] = 255; ip[18] = 255; ip[19] = 255;
		unsigned long sum = 0;
		for (int i = 0; i < 20; i += 2) sum += (unsigned long)(ip[i] << 8 | ip[i + 1]);
		while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
		ip[10] = (unsigned char)(~sum >> 8); ip[11] = (unsigned char)~sum;
		unsigned char *udp = ip + 20;
		size_t udplen = iplen - 20;
		udp[0] = 0x9c; udp[1] = 0x40; udp[2] = 0; udp[3] = 9;
		udp[4] = (unsigned char)(udplen >> 8); udp[5] = (unsigned char)udplen;
	} else if (strcmp(kind, "warm") == 0) {
		if (len < 14) return 0;
		memcpy(f, uni, 6);
		f[12] = 0x88; f[13] = 0xb5;
	} else {
		return 0;
	}
	return len;
}

static void send_frames(struct sender *s, const char *kind, long count, size_t len) {
	unsigned char frame[1514];
	if (len > sizeof frame || make_frame(frame, kind, len) != len) {
		fprintf(stderr, "probe: cannot make a '%s' frame of %zu bytes\n", kind, len);
		exit(2);
	}
	for (long i = 0; i < count; i++) {
		if (sendto(s->fd, frame, len, 0, (struct sockaddr *)&s->to, sizeof s->to) != (ssize_t)len) die("sendto");
		sleep_ms(2);
	}
}

/* Reads a counter socket into buf; -1 when it does not answer. */
static int read_socket(const char *path, char *buf, size_t cap) {
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0) die("socket(AF_UNIX)");
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	struct timeval limit = { 10, 0 }; /* a daemon that accepts but never answers */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { close(fd); return -1; }
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0) n += (size_t)r;
	close(fd);
	buf[n] = 0;
	return r < 0 ? -1 : (int)n;
}

/* Whether any `<id>:<bytes>:<packets>` line has packets > 0. */
static int counted(const char *text) {
	for (const char *line = text; *line; ) {
		const char *end = strchr(line, '\n');
		if (!end) end = line + strlen(line);
		const char *colon = end;
		while (colon > line && colon[-1] != ':') colon--;
		if (colon > line && end > colon && strtol(colon, NULL, 10) > 0) return 1;
		line = *end ? end + 1 : end;
	}
	return 0;
}

static int cmd_start(int argc, char **argv) {
	const char *sockets[16]; int nsockets = 0;
	struct sender senders[16]; int nsenders = 0;
	long wait_s = 300;
	const char *kind = "arp";
	int i = 2;
	for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
		if (i + 1 >= argc) break;
		if (strcmp(argv[i], "-s") == 0 && nsockets < 16) sockets[nsockets++] = argv[i + 1];
		else if (strcmp(argv[i], "-t") == 0 && nsenders < 16) open_sender(&senders[nsenders++], argv[i + 1]);
		else if (strcmp(argv[i], "-w") == 0) wait_s = atol(argv[i + 1]);
		else if (strcmp(argv[i], "-k") == 0) kind = argv[i + 1];
		else { fprintf(stderr, "probe start: bad option %s\n", argv[i]); return 2; }
	}
	if (i >= argc - 1 || nsockets == 0) { fprintf(stderr, "probe start: need -s SOCKET and -- CMD\n"); return 2; }
	char **cmd = argv + i + 1;
	long long t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0) die("fork");
	/* The command's stdout goes to our stderr: our stdout may be a pipe that the
	 * caller reads to EOF, which a daemon left running would never give. */
	if (pid == 0) { dup2(2, 1); execv(cmd[0], cmd); die(cmd[0]); }
	long long socket_ms = -1, count_ms = -1;
	int answered[16] = { 0 }, counting[16] = { 0 };
	static char buf[65536];
	while (now_ms() - t0 < wait_s * 1000) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			printf("START pid=%d exited status=%d\n", (int)pid, status);
			return 1;
		}
		for (int k = 0; k < nsenders; k++) send_frames(&senders[k], kind, 1, 60);
		int all_answered = 1, all_counting = 1;
		for (int k = 0; k < nsockets; k++) {
			if (!counting[k] && read_socket(sockets[k], buf, sizeof buf) >= 0) {
				answered[k] = 1;
				counting[k] = counted(buf);
			}
			all_answered &= answered[k];
			all_counting &= counting[k];
		}
		if (all_answered && socket_ms < 0) socket_ms = now_ms() - t0;
		if (all_counting) { count_ms = now_ms() - t0; break; }
		sleep_ms(50);
	}
	printf("START pid=%d socket_ms=%lld count_ms=%lld\n", (int)pid, socket_ms, count_ms);
	return count_ms < 0;
}

static int cmd_time(int argc, char **argv) {
	if (argc < 4 || strcmp(argv[2], "--") != 0) { fprintf(stderr, "probe time: -- CMD\n"); return 2; }
	long long t0 = now_ms();
	pid_t pid = fork();
	if (pid < 0) die("fork");
	if (pid == 0) { execv(argv[3], argv + 3); die(argv[3]); }
	int status;
	if (waitpid(pid, &status, 0) < 0) die("waitpid");
	printf("TIME ms=%lld status=%d\n", now_ms() - t0, status);
	return 0;
}

static long status_kb(const char *text, const char *key) {
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key) + 1, NULL, 10) : -1;
}

static int cmd_settle(const char *pid) {
	char path[64], text[4096];
	snprintf(path, sizeof path, "/proc/%s/status", pid);
	long last = -1; int same = 0;
	for (int s = 0; s < 90 && same < 3; s++) {
		FILE *f = fopen(path, "r");
		if (!f) die(path);
		size_t n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = 0;
		long rss = status_kb(text, "VmRSS:");
		same = rss == last ? same + 1 : 0;
		last = rss;
		if (same < 3) sleep_ms(1000);
	}
	printf("STATUS pid=%s VmHWM=%ld VmRSS=%ld RssAnon=%ld RssFile=%ld settled=%s\n", pid,
		status_kb(text, "VmHWM:"), status_kb(text, "VmRSS:"), status_kb(text, "RssAnon:"),
		status_kb(text, "RssFile:"), same >= 3 ? "yes" : "no");
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 6 && strcmp(argv[1], "send") == 0) {
		struct sender s;
		open_sender(&s, argv[2]);
		send_frames(&s, argv[3], atol(argv[4]), (size_t)atol(argv[5]));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "read") == 0) {
		static char buf[65536];
		if (read_socket(argv[2], buf, sizeof buf) < 0) die(argv[2]);
		fputs(buf, stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "start") == 0) return cmd_start(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "time") == 0) return cmd_time(argc, argv);
	if (argc == 3 && strcmp(argv[1], "settle") == 0) return cmd_settle(argv[2]);
	fprintf(stderr, "usage: probe send|read|start|time|settle ... (see test/cross/probe.c)\n");
	return 2;
}
