#!/usr/bin/perl
# procs.pl: the processes that serve one daemon under test (for bench/engine).
#
#   procs.pl [--tree] [--pages] DIR
#
# Selects every live process whose command line contains DIR, the daemon's
# private folder: the daemon itself (--data-root DIR/data), dockerd's
# containerd (--config DIR/exec/...) and shims (-address DIR/exec/...),
# berthd's berth-monitor processes (--state-dir DIR/exec/...).  The
# containers' own processes (e.g. `sleep 60`) do not name DIR and so are not
# selected.  With --tree, all descendants of the selected processes are
# added (for clean-up: that is where the containers' processes are).
#
# Prints one line per process, sorted by pid:
#   PID COMM RSS_KB PSS_KB
# RSS is VmRSS from /proc/PID/status; PSS is Pss from /proc/PID/smaps_rollup
# (summed over /proc/PID/smaps where the kernel has no smaps_rollup).
# Zombies, kernel threads, this process and processes that vanish while
# being read are left out.
#
# With --pages, one more line follows:
#   = DISTINCT_KB
# the resident memory of the selected processes as a group: each physical
# page that any of them maps counted once (page frame numbers from
# /proc/PID/pagemap; needs root).  Unlike summed RSS it does not count pages
# shared inside the group (50 shims' text) 50 times, and unlike summed PSS
# it does not shrink when unrelated processes (another daemon on the host)
# share the same binaries.  "= -" when the kernel hides the frame numbers.
use strict;
use warnings;
no warnings 'portable';    # 64-bit addresses in hex()
use POSIX ();

my ($tree, $pages) = (0, 0);
while (@ARGV && $ARGV[0] =~ /^--/) {
  my $opt = shift @ARGV;
  if ($opt eq '--tree') { $tree = 1; }
  elsif ($opt eq '--pages') { $pages = 1; }
  else { die "usage: procs.pl [--tree] [--pages] DIR\n"; }
}
die "usage: procs.pl [--tree] [--pages] DIR\n" unless @ARGV == 1 && length $ARGV[0];
my $dir = $ARGV[0];
my $PAGE = POSIX::sysconf(POSIX::_SC_PAGESIZE()) || 4096;    # pagemap: one entry per base page

sub slurp {
  my ($path) = @_;
  open(my $fh, '<', $path) or return undef;
  local $/;
  my $s = <$fh>;
  close $fh;
  return defined $s ? $s : '';
}

# pid -> [ppid, state, comm] for every live process
my %info;
opendir(my $dh, '/proc') or die "procs.pl: /proc: $!\n";
for my $pid (grep { /^\d+$/ } readdir $dh) {
  next if $pid == $$;
  my $stat = slurp("/proc/$pid/stat");
  next unless defined $stat;
  # comm may contain spaces and parentheses: it ends at the last ')'
  next unless $stat =~ /^\d+ \((.*)\) (\S) (\d+)/s;
  $info{$pid} = [$3, $2, $1];
}
closedir $dh;

my %chosen;
for my $pid (keys %info) {
  next if $info{$pid}[1] eq 'Z' || $info{$pid}[1] eq 'X';
  my $cmd = slurp("/proc/$pid/cmdline");
  next unless defined $cmd && length $cmd;    # kernel threads have none
  $cmd =~ tr/\0/ /;
  $chosen{$pid} = 1 if index($cmd, $dir) >= 0;
}

if ($tree) {
  my %children;
  push @{$children{$info{$_}[0]}}, $_ for keys %info;
  my @todo = keys %chosen;
  while (defined(my $pid = pop @todo)) {
    for my $child (@{$children{$pid} || []}) {
      next if $chosen{$child}++;
      push @todo, $child;
    }
  }
}

sub pss_kb {
  my ($pid) = @_;
  my $rollup = slurp("/proc/$pid/smaps_rollup");
  if (defined $rollup) {
    return $rollup =~ /^Pss:\s+(\d+) kB/m ? $1 : 0;
  }
  my $smaps = slurp("/proc/$pid/smaps");
  return undef unless defined $smaps;
  my $sum = 0;
  $sum += $1 while $smaps =~ /^Pss:\s+(\d+) kB/mg;
  return $sum;
}

for my $pid (sort { $a <=> $b } keys %chosen) {
  my $status = slurp("/proc/$pid/status");
  next unless defined $status;
  my $rss = $status =~ /^VmRSS:\s+(\d+) kB/m ? $1 : 0;
  my $pss = pss_kb($pid);
  next unless defined $pss;
  my $comm = $info{$pid}[2];
  $comm =~ s/\s/_/g;
  print "$pid $comm $rss $pss\n";
}

# the page frames PID maps (present pages only) into %$frames; returns 0
# if the kernel reported no frame numbers (not root)
sub add_frames {
  my ($pid, $frames) = @_;
  open(my $maps, '<', "/proc/$pid/maps") or return 1;
  open(my $pm, '<:raw', "/proc/$pid/pagemap") or return 1;
  my ($present, $numbered) = (0, 0);
  while (my $line = <$maps>) {
    my ($from, $to, $perms) = $line =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+)/ or next;
    next if $perms =~ /^---/;    # no access: nothing resident (Go's reservations)
    next if $line =~ /\[vsyscall\]/;
    my ($first, $last) = (int(hex($from) / $PAGE), int(hex($to) / $PAGE));
    for (my $page = $first; $page < $last; $page += 65536) {
      my $n = $last - $page < 65536 ? $last - $page : 65536;
      sysseek($pm, $page * 8, 0) or last;
      my $buf = '';
      my $got = sysread($pm, $buf, $n * 8);
      last unless $got;
      for my $entry (unpack('Q<*', $buf)) {
        next unless $entry & (1 << 63);
        $present++;
        my $pfn = $entry & ((1 << 55) - 1);
        next unless $pfn;
        $numbered++;
        $frames->{$pfn} = 1;
      }
    }
  }
  return !$present || $numbered;
}

if ($pages) {
  my %frames;
  my $visible = 1;
  for my $pid (keys %chosen) {
    $visible = 0 unless add_frames($pid, \%frames);
  }
  print $visible ? "= " . (scalar(keys %frames) * $PAGE / 1024) . "\n" : "= -\n";
}
