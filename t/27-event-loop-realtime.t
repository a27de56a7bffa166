#!/usr/bin/perl

# iot_event_loop_realtime on: each worker's event loop (its main thread)
# runs in SCHED_RR at priority 1, while the threads of nginx's thread pool
# (the store's writes) are in the normal class; requests are served as
# before.  Off (the default, and after a reload that turns it off): every
# thread in the normal class.  Needs root (the master takes the class,
# the workers inherit it).

use strict;
use warnings;

use Test::More;
use IoT::Test;
use IoT::Collections;

plan skip_all => 'needs root: the master takes SCHED_RR' if $> != 0;

# a thread's scheduling policy and realtime priority (proc(5): stat
# fields 41 and 40)
sub sched_of {
    my ($pid, $tid) = @_;
    open my $fh, '<', "/proc/$pid/task/$tid/stat" or return;
    my $s = <$fh>;
    close $fh;
    $s =~ s/^.*\)\s+//s;
    my @f = split ' ', $s;
    return ($f[38], $f[37]);
}

# per worker: [policy and priority of the main thread, of the others]
sub classes {
    my ($t) = @_;
    my @out;
    for my $w ($t->workers) {
        opendir my $dh, "/proc/$w/task" or next;
        my @tids = grep { /^\d+\z/ } readdir $dh;
        closedir $dh;
        my $main = join ' ', sched_of($w, $w);
        my %others;
        $others{ join ' ', sched_of($w, $_) }++ for grep { $_ != $w } @tids;
        push @out, [ $main, join(',', sort keys %others), scalar @tids ];
    }
    return @out;
}

my $t = IoT::Test->new(main_conf => "iot_event_loop_realtime on;\n");
$t->start;

is(join(' ', sched_of($t->pid, $t->pid)), '2 1',
   'the master in SCHED_RR 1 (the workers inherit it)');
my @c = classes($t);
is(scalar @c, 2, 'two workers');
for my $i (0 .. $#c) {
    is($c[$i][0], '2 1', "worker $i: the event loop in SCHED_RR, priority 1");
    cmp_ok($c[$i][2], '>', 1, "worker $i: it has pool threads");
    is($c[$i][1], '0 0', "worker $i: its pool threads in the normal class");
}
like($t->log_slice(0), qr/iot_event_loop_realtime: the event loop runs in SCHED_RR 1/,
     'the log says so');

my $api = IoT::Collections->new($t);
my $col = $api->create_collection({ tags => { name => 'rt' } });
my $dev = $api->create_device($col->{collectionId});
my ($st) = $api->call(GET => "/collections/$col->{collectionId}/devices/$dev->{deviceId}");
is($st, 200, 'a device made and read');

$t->reload(main_conf => '');
is(join(' ', sched_of($t->pid, $t->pid)), '0 0',
   'after a reload without it: the master back in the normal class');
@c = classes($t);
is(scalar @c, 2, '... two workers');
is($c[$_][0], '0 0', "worker $_: the event loop in the normal class")
    for 0 .. $#c;
is($c[$_][1], '0 0', "worker $_: its pool threads too") for 0 .. $#c;

$t->check_log('realtime');
$t->stop;
done_testing;
