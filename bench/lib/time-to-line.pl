#!/usr/bin/perl
# time-to-line.pl: how long a command takes to print a pattern (for
# bench/vmm).
#
#   time-to-line.pl [--timeout S] [--guest-mib N] [--log FILE] [--out FILE] PATTERN -- CMD...
#
# Starts CMD with its stdout on a pipe (stderr goes to --log, else
# /dev/null), reads until the output so far matches the Perl regex PATTERN,
# and prints one line:
#   SECONDS RSS_KB GUEST_KB
# SECONDS from just before the fork to the match (CLOCK_MONOTONIC).  With
# --guest-mib, RSS_KB is the command's VmRSS at the match and GUEST_KB the
# resident part of its guest memory: the sum of Rss over its read-write
# anonymous mappings of N MiB or more (guest RAM: nothing else the VMM maps
# read-write is that big), read from /proc/PID/smaps; otherwise both are "-".  Then CMD is killed
# (SIGKILL) and reaped.  Prints "timeout" (exit 1) if PATTERN did not come
# within --timeout seconds (default 60), "exited" (exit 1) if CMD ended
# first.  Output past the match is not read.  --out FILE keeps a copy of
# the output read (up to the match), for checks of what the guest printed.
use strict;
use warnings;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);
use POSIX qw(:sys_wait_h);

my ($timeout, $guest_mib, $log, $out) = (60, 0, '/dev/null', undef);
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $o = shift @ARGV;
  last if $o eq '--';
  if ($o eq '--timeout') { $timeout = shift @ARGV; }
  elsif ($o eq '--guest-mib') { $guest_mib = shift @ARGV; }
  elsif ($o eq '--log') { $log = shift @ARGV; }
  elsif ($o eq '--out') { $out = shift @ARGV; }
  else { die "time-to-line.pl: unknown option $o\n"; }
}
my $pattern = shift @ARGV;
shift @ARGV if @ARGV && $ARGV[0] eq '--';
die "usage: time-to-line.pl [--timeout S] [--guest-mib N] [--log FILE] [--out FILE] PATTERN -- CMD...\n" unless defined $pattern && @ARGV;

pipe (my $r, my $w) or die "pipe: $!\n";
my $t0 = clock_gettime (CLOCK_MONOTONIC);
my $pid = fork () // die "fork: $!\n";
if ($pid == 0) {
  close $r;
  open (STDOUT, '>&', $w) or die;
  open (STDERR, '>', $log) or die "$log: $!\n";
  open (STDIN, '<', '/dev/null') or die;
  exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n";
}
close $w;
my $copy;
if (defined $out) { open ($copy, '>', $out) or die "$out: $!\n"; }

my $buf = '';
my $deadline = $t0 + $timeout;
my ($result, $rc) = ('timeout', 1);
while (1) {
  my $left = $deadline - clock_gettime (CLOCK_MONOTONIC);
  last if $left <= 0;
  my $rin = '';
  vec ($rin, fileno ($r), 1) = 1;
  my $n = select (my $rout = $rin, undef, undef, $left);
  next if $n < 0 && $!{EINTR};
  last if $n <= 0;
  my $got = sysread ($r, my $chunk, 65536);
  if (!$got) { ($result, $rc) = ('exited', 1); last; }
  $buf .= $chunk;
  print $copy $chunk if $copy;
  if ($buf =~ /$pattern/) {
    my $secs = clock_gettime (CLOCK_MONOTONIC) - $t0;
    my ($rss, $guest) = ('-', '-');
    ($rss, $guest) = memory ($pid, $guest_mib) if $guest_mib;
    $result = sprintf ("%.4f %s %s", $secs, $rss, $guest);
    $rc = 0;
    last;
  }
  # Keep the tail only: the pattern is one line.
  $buf = substr ($buf, -4096) if length ($buf) > 65536;
}
kill 'KILL', $pid;
waitpid ($pid, 0);
print "$result\n";
exit $rc;

sub memory {
  my ($pid, $mib) = @_;
  my ($rss, $guest, $size, $anon) = (0, 0, 0, 0);
  open (my $st, '<', "/proc/$pid/status") or return ('-', '-');
  while (<$st>) { $rss = $1 if /^VmRSS:\s+(\d+)/; }
  close $st;
  open (my $sm, '<', "/proc/$pid/smaps") or return ($rss, '-');
  my $in_guest = 0;
  while (<$sm>) {
    if (/^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ (\d+)\s*(\S*)/) {
      # A new mapping: read-write and anonymous (inode 0, no path)?
      my ($perms, $inode, $path) = ($1, $2, $3);
      $anon = ($perms =~ /^rw/ && $inode == 0 && $path eq '');
      $in_guest = 0;
      next;
    }
    if (/^Size:\s+(\d+) kB/) { $in_guest = $anon && $1 >= $mib * 1024; next; }
    $guest += $1 if $in_guest && /^Rss:\s+(\d+) kB/;
  }
  return ($rss, $guest);
}
