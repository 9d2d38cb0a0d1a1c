/*
 * burrow lab delay element: holds every packet of one NFQUEUE for a fixed time, then
 * accepts it. Stands in for `tc netem delay` on kernels without sch_netem.
 *
 *   usage: burrow-lab-delay QUEUE_NUM DELAY_US
 *
 * Fed by iptables-nft NFQUEUE rules inside a router namespace (nft's own `queue`
 * statement does not work on every kernel). The delay is fixed, so packets leave in the
 * order they came: a FIFO of (packet id, due time) is all the state needed. Runs until
 * SIGTERM/SIGINT; on exit the kernel drops what is still queued (the rules use
 * --queue-bypass, so traffic flows undelayed once this process is gone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define FIFO_SIZE 65536u /* power of two; more than the queue can hold */
#define QUEUE_MAXLEN 16384u

struct held { uint32_t id; uint64_t due_ns; };

static struct held fifo[FIFO_SIZE];
static uint32_t head, tail; /* tail - head = packets held */
static uint64_t delay_ns;
static volatile sig_atomic_t stop;

static uint64_t now_ns (void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_packet (struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data)
{
  (void)msg; (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == NULL) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (delay_ns == 0 || tail - head >= FIFO_SIZE) {
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  fifo[tail & (FIFO_SIZE - 1)] = (struct held){ id, now_ns() + delay_ns };
  tail++;
  return 0;
}

static void on_signal (int sig) { (void)sig; stop = 1; }

int main (int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: %s QUEUE_NUM DELAY_US\n", argv[0]);
    return 2;
  }
  uint16_t queue = (uint16_t)strtoul(argv[1], NULL, 10);
  delay_ns = strtoull(argv[2], NULL, 10) * 1000ull;

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  struct nfq_handle *h = nfq_open();
  if (h == NULL) { perror("nfq_open"); return 1; }
  struct nfq_q_handle *qh = nfq_create_queue(h, queue, &on_packet, NULL);
  if (qh == NULL) { perror("nfq_create_queue"); return 1; }
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) { perror("nfq_set_mode"); return 1; }
  nfq_set_queue_maxlen(qh, QUEUE_MAXLEN);
  int fd = nfq_fd(h);
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8 * 1024 * 1024);

  fprintf(stderr, "delay: queue %u, %llu us\n", queue, (unsigned long long)(delay_ns / 1000));
  fflush(stderr);

  char buf[65536] __attribute__((aligned));
  while (!stop) {
    uint64_t t = now_ns();
    while (head != tail && fifo[head & (FIFO_SIZE - 1)].due_ns <= t) {
      nfq_set_verdict(qh, fifo[head & (FIFO_SIZE - 1)].id, NF_ACCEPT, 0, NULL);
      head++;
    }
    struct timespec wait, *waitp = NULL;
    if (head != tail) {
      uint64_t due = fifo[head & (FIFO_SIZE - 1)].due_ns;
      uint64_t left = due > t ? due - t : 0;
      wait.tv_sec = (time_t)(left / 1000000000ull);
      wait.tv_nsec = (long)(left % 1000000000ull);
      waitp = &wait;
    }
    struct pollfd pfd = { fd, POLLIN, 0 };
    int n = ppoll(&pfd, 1, waitp, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      break;
    }
    if (n > 0) {
      /* drain what is readable without blocking */
      for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r < 0) {
          if (errno == ENOBUFS) { fprintf(stderr, "delay: queue overrun, packets lost\n"); continue; }
          break;
        }
        nfq_handle_packet(h, buf, (int)r);
      }
    }
  }
  nfq_destroy_queue(qh);
  nfq_close(h);
  return 0;
}
