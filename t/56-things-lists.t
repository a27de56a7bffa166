#!/usr/bin/perl
# The things dialect's lists of devices and device groups: every sort
# order (createdAt, modifiedAt, name, comma lists, "-" descending), pages
# by next and previous links in both directions, keyset paging while
# devices are created and deleted between pages (nothing skipped, nothing
# repeated, also when the cursor's own row is deleted), filters with sort,
# a token of one project, cursors across a restart, bad sort, cursor,
# limit and dates; a device of either dialect in the other's lists.

use strict;
use warnings;
use Test::More;
use lib 't/lib';
use IoT::Test;
use IoT::Collections;
use IoT::Things;
use IoT::JSON;

my $t = IoT::Test->new(location => $IoT::Things::LOCATIONS);
my $col = IoT::Collections->new($t);
my $api = IoT::Things->new($t);
$t->start;

my $A = $col->create_collection;
my $B = $col->create_collection;
my ($aid, $bid) = ($A->{collectionId}, $B->{collectionId});
my $seed = $col->create_device($aid, { tags => { name => 'seed' } });
my $S = ($api->call(GET => "/devices/imei:$seed->{imei}"))[1];
$api->{client_id} = $S->{clientId};
my $PA = $S->{projectId};
my $seedb = $col->create_device($bid, { tags => { name => 'Seed B' } });
my $PB = ($api->call(GET => "/devices/imei:$seedb->{imei}"))[1]{projectId};

# names with ties and case, two projects, some changed after creation
my @names = qw(delta Alpha charlie Bravo alpha echo Delta foxtrot golf
               alpha hotel India juliet kilo Lima);
my %dev;
for my $i (0 .. $#names) {
    my $d = $api->create_device($i % 4 == 3 ? $PB : $PA,
                                { name => $names[$i],
                                  barcode => "BC-$i",
                                  description => $i % 2 ? 'odd one' : 'even' });
    $dev{ $d->{id} } = $d;
}
# a device of the collections dialect without a name: named by its id
my $anon = $col->create_device($aid);
# some devices change: modifiedAt moves on
for my $id ((sort keys %dev)[0, 3, 5]) {
    my $d = $dev{$id};
    my ($s, $j) = $api->call(PUT => "/devices/$id", body => $api->device_body(
        $d->{projectId}, { name => "$d->{name} v2" }));
    is($s, 200, "PUT $d->{name}");
}

# ---- helpers

sub fetch {
    my ($path, %o) = @_;
    my ($s, $l, undef, $raw) = $api->call(GET => $path, %o);
    die "GET $path: $s $raw\n" unless $s == 200;
    return $l;
}

# every page by next links: the ids in order, and the pages
sub walk {
    my ($base, $query, %o) = @_;
    my (@ids, @pages);
    my $next = "?$query";
    while (defined $next) {
        my $l = fetch("$base$next", %o);
        push @pages, $l;
        push @ids, map { $_->{id} } @{ $l->{items} };
        $next = $l->{next};
        die "too many pages\n" if @pages > 300;
    }
    return (\@ids, \@pages);
}

# from the last page back by previous links: the ids in order
sub walk_back {
    my ($base, $last, %o) = @_;
    my @ids = map { $_->{id} } @{ $last->{items} };
    my $prev = $last->{previous};
    my $n = 0;
    while (defined $prev) {
        my $l = fetch("$base$prev", %o);
        unshift @ids, map { $_->{id} } @{ $l->{items} };
        $prev = $l->{previous};
        die "too many pages\n" if ++$n > 300;
    }
    return \@ids;
}

# does a list follow the sort (ties allowed)?
sub key_of {
    my ($item, $field) = @_;
    return $field eq 'name' ? do { (my $n = $item->{name}) =~ tr/A-Z/a-z/; $n }
                            : $item->{$field};
}

sub in_order {
    my ($items, $sort) = @_;
    my @keys = map { /^(-?)(.*)/; [ $2, $1 ? -1 : 1 ] } split /,/, $sort;
    for my $i (1 .. $#$items) {
        for my $k (@keys) {
            my ($f, $dir) = @$k;
            my $c = (key_of($items->[$i - 1], $f) cmp key_of($items->[$i], $f))
                    * $dir;
            return "items $i-1 and $i: $f" if $c > 0;
            last if $c < 0;
        }
    }
    return '';
}

my @SORTS = ('', 'createdAt', '-createdAt', 'modifiedAt', '-modifiedAt',
             'name', '-name', 'name,-createdAt', '-name,createdAt',
             '-modifiedAt,name', 'createdAt,name,modifiedAt',
             'name,modifiedAt,-createdAt');

# ---- every sort order: whole, by next, by previous

my $everything = fetch('/devices?limit=1000');
my %all = map { $_->{id} => $_ } @{ $everything->{items} };
is(scalar keys %all, scalar(@names) + 3, 'every device in one page');
ok(!exists $everything->{next}, 'one page: no next link');
ok(!exists $everything->{previous}, 'the first page: no previous link');

for my $sort (@SORTS) {
    my $q = $sort eq '' ? '' : "sort=$sort&";
    my $whole = fetch("/devices?${q}limit=1000");
    my @ids = map { $_->{id} } @{ $whole->{items} };
    is_deeply([ sort @ids ], [ sort keys %all ], "sort=$sort: every device");
    is(in_order($whole->{items}, $sort), '', "sort=$sort: in its order")
        if $sort;

    for my $limit (1, 4) {
        my ($paged, $pages) = walk('/devices', "${q}limit=$limit");
        is_deeply($paged, \@ids, "sort=$sort, pages of $limit by next");
        ok(!exists $pages->[0]{previous}, 'the first page has no previous');
        ok(!exists $pages->[-1]{next}, 'the last page has no next');
        is(scalar(grep { !exists $_->{previous} } @$pages), 1,
           'every other page has a previous link');
        my $back = walk_back('/devices', $pages->[-1]);
        is_deeply($back, \@ids, "sort=$sort, pages of $limit by previous");
    }
}

# a previous page and its next link come back to the same page
{
    my ($ids, $pages) = walk('/devices', 'sort=name&limit=4');
    my $third = $pages->[2];
    my $second = fetch("/devices$third->{previous}");
    is_deeply([ map { $_->{id} } @{ $second->{items} } ],
              [ map { $_->{id} } @{ $pages->[1]{items} } ],
              'previous of the third page is the second');
    my $again = fetch("/devices$second->{next}");
    is_deeply([ map { $_->{id} } @{ $again->{items} } ],
              [ map { $_->{id} } @{ $third->{items} } ],
              'and its next is the third again');
    like($second->{next}, qr/^\?sort=name&limit=4&cursor=[A-Za-z0-9_-]+\z/,
         'links repeat the query, with an opaque cursor');
    like($second->{previous}, qr/^\?sort=name&limit=4&cursor=[A-Za-z0-9_-]+\z/,
         'the previous link too');
}

# ---- filters with a sort

{
    my $l = fetch('/devices?q=ALPHA&sort=-name&limit=1000');
    my @n = map { $_->{name} } @{ $l->{items} };
    is(scalar @n, 3, 'q with sort: the three alphas')
        or diag explain \@n;
    is(in_order($l->{items}, '-name'), '', 'in the order asked');
    my ($paged) = walk('/devices', 'q=ALPHA&sort=-name&limit=1');
    is_deeply($paged, [ map { $_->{id} } @{ $l->{items} } ],
              'q with sort in pages of 1');
    my $odd = fetch('/devices?q=odd&sort=createdAt&limit=1000');
    ok(!(grep { ($_->{description} // '') ne 'odd one' } @{ $odd->{items} }),
       'q in the description');
    my $bc = fetch('/devices?barcode=bc-1&sort=name&limit=1000');
    my @b = sort map { $_->{barcode} } @{ $bc->{items} };
    is_deeply(\@b, [ sort grep { /bc-1/i } map { $_->{barcode} // '' }
                     values %all ],
              'barcode: a part of it, any case, with a sort');
    ok(@b >= 2, 'some of them');
    my $pct = fetch('/devices?q=%25&limit=1000');
    is_deeply($pct->{items}, [], 'q: % is a character, not a wildcard');
    my $us = fetch('/devices?barcode=_&limit=1000');
    is_deeply($us->{items}, [], 'barcode: _ is a character too');
    my $now = fetch('/devices?limit=1')->{items}[0]{createdAt};
    my $since = fetch("/devices?sort=createdAt&createdSince=$now&limit=1000");
    ok(!(grep { $_->{createdAt} lt $now } @{ $since->{items} }),
       'createdSince with sort=createdAt');
    my $before = fetch("/devices?sort=-createdAt&createdBefore=$now&limit=1000");
    ok(!(grep { $_->{createdAt} ge $now } @{ $before->{items} }),
       'createdBefore with sort=-createdAt');
    is(@{ $since->{items} } + @{ $before->{items} }, scalar keys %all,
       'since and before: every device once');
}

# ---- the name of a device of the collections dialect

{
    my $l = fetch('/devices?sort=name&limit=1000');
    my ($a) = grep { $_->{name} eq $anon->{deviceId} } @{ $l->{items} };
    ok($a, 'a device without tags.name sorts by its id');
    my ($s) = $col->call(PATCH => "/collections/$aid/devices/$anon->{deviceId}",
                         body => { tags => { name => 'Zzz last' } });
    is($s, 200, 'named in the collections dialect');
    my $z = fetch('/devices?sort=-name&limit=1');
    is($z->{items}[0]{name}, 'Zzz last', 'and sorts by that name here');
    $col->call(PATCH => "/collections/$aid/devices/$anon->{deviceId}",
               body => { tags => { name => '' } });
    my $back = fetch('/devices?sort=-name&limit=1');
    isnt($back->{items}[0]{name}, 'Zzz last', 'the name tag removed: its id again');
}

# ---- a token of one project

{
    my $ta = $col->create_token({ resource => "/collections/$aid",
                                  write => JTRUE });
    my $mine = fetch('/devices?sort=name&limit=1000', token => $ta->{token});
    ok(@{ $mine->{items} } > 3, 'project A\'s token lists');
    ok(!(grep { $_->{projectId} ne $PA } @{ $mine->{items} }),
       'only project A\'s devices');
    my ($paged, $pages) = walk('/devices', 'sort=-modifiedAt&limit=2',
                               token => $ta->{token});
    is_deeply([ sort @$paged ], [ sort map { $_->{id} } @{ $mine->{items} } ],
              'its pages give the same devices');
    my $back = walk_back('/devices', $pages->[-1], token => $ta->{token});
    is_deeply($back, $paged, 'by previous links too');
    my $none = fetch("/device-groups?projectId=$PB", token => $ta->{token});
    is_deeply($none->{items}, [], 'another project\'s groups: none');
}

# ---- bad parameters

my ($ids, $pages) = walk('/devices', 'sort=name&limit=2');
my ($cur) = $pages->[0]{next} =~ /cursor=([^&]+)/;
my $bad = $cur;
substr($bad, 2, 1) = substr($bad, 2, 1) eq 'A' ? 'B' : 'A';
for my $q ('sort=color', 'sort=name,name', 'sort=-', 'sort=name,',
           'sort=,name', 'sort=id', 'sort=Name', 'sort=%2Bname',
           'limit=0', 'limit=1001', 'limit=-1', 'limit=', 'cursor=',
           'cursor=%%%', 'cursor=AAAA', "sort=createdAt&cursor=$cur",
           "cursor=$cur", "sort=name&cursor=${cur}x", 'createdSince=2024-13-01T00:00:00Z',
           'modifiedBefore=2024-01-01T25:00:00Z', 'createdBefore=now',
           'q=%00', 'cursor=' . ('A' x 3000))
{
    is_problem([ $api->call(GET => "/devices?$q") ], 400, "GET /devices?$q");
}
is_problem([ $api->call(GET => "/device-groups?sort=name&cursor=$cur") ], 400,
           'a devices cursor is no groups cursor');
is(($api->call(GET => "/devices?sort=name&limit=2&cursor=$cur"))[0], 200,
   'the cursor with its own query is fine');

# ---- cursors outlive a restart (they hold keys, not state)

{
    my $p2 = $pages->[1];
    $t->restart;
    my $again = fetch("/devices$pages->[0]{next}");
    is_deeply([ map { $_->{id} } @{ $again->{items} } ],
              [ map { $_->{id} } @{ $p2->{items} } ],
              'after a restart the same cursor gives the same page');
}

# ---- paging while devices come and go

for my $sort ('', 'name', '-createdAt', 'modifiedAt,-name') {
    for my $dir ('next', 'previous') {
        my $q = $sort eq '' ? '' : "sort=$sort&";
        my $n = 0;
        # more devices for each walk: it deletes about one a page
        $api->create_device($PA, { name => "pool $sort $dir $_" }) for 1 .. 12;
        my @made;
        # devices that live through the whole walk must each come once
        my $start = fetch("/devices?${q}limit=1000");
        my %stay = map { $_->{id} => 1 } @{ $start->{items} };
        my %gone;
        my (@got, $link);
        my $page;
        if ($dir eq 'next') {
            $page = fetch("/devices?${q}limit=3");
        } else {
            my (undef, $pages) = walk('/devices', "${q}limit=3");
            $page = $pages->[-1];
        }
        while (1) {
            my @ids = map { $_->{id} } @{ $page->{items} };
            push @got, $dir eq 'next' ? @ids : reverse @ids;
            $link = $page->{$dir};
            last unless defined $link;
            # between pages: one new device, and one deletion: the row
            # the cursor names (the page's last, or first) every other
            # time, else one not seen yet
            my $d = $api->create_device($PA, { name => sprintf('churn %03d', $n) });
            push @made, $d->{id};
            my $victim;
            if ($n % 2 == 0 && @ids) {
                $victim = $dir eq 'next' ? $ids[-1] : $ids[0];
            } else {
                my %seen = map { $_ => 1 } @got;
                ($victim) = grep { !$seen{$_} && !$gone{$_} }
                            sort keys %stay;
            }
            if (defined $victim) {
                is(($api->call(DELETE => "/devices/$victim"))[0], 204,
                   'a device deleted between pages');
                $gone{$victim} = 1;
                delete $stay{$victim};
            }
            $page = fetch("/devices$link");
            $n++;
            die "too many pages\n" if $n > 100;
        }
        my %count;
        $count{$_}++ for @got;
        is(scalar(grep { $count{$_} > 1 } keys %count), 0,
           "sort=$sort by $dir under change: nothing repeated");
        is(scalar(grep { !$count{$_} } keys %stay), 0,
           "sort=$sort by $dir under change: nothing that stayed skipped");
        ok($n > 3, "over $n pages");
        $api->call(DELETE => "/devices/$_") for @made;
    }
}

# ---- device groups

{
    my %g;
    for my $n (qw(west East north South centre)) {
        my ($s, $j) = $api->call(POST => '/device-groups', body => {
            name => $n, clientId => $api->{client_id},
            projectId => $n eq 'north' ? $PB : $PA });
        is($s, 201, "group $n");
        $g{ $j->{id} } = $j;
    }
    my ($s) = $api->call(PUT => '/device-groups/' . (sort keys %g)[0], body => {
        name => 'renamed', clientId => $api->{client_id},
        projectId => $g{ (sort keys %g)[0] }{projectId} });
    is($s, 200, 'a group changed');
    for my $sort ('', 'name', '-name', 'createdAt', '-modifiedAt',
                  'name,-createdAt') {
        my $q = $sort eq '' ? '' : "sort=$sort&";
        my $whole = fetch("/device-groups?${q}limit=1000");
        is(scalar @{ $whole->{items} }, 5, "groups sort=$sort: all");
        is(in_order($whole->{items}, $sort), '', "groups sort=$sort: order")
            if $sort;
        my ($paged, $gp) = walk('/device-groups', "${q}limit=2");
        is_deeply($paged, [ map { $_->{id} } @{ $whole->{items} } ],
                  "groups sort=$sort: by next");
        is_deeply(walk_back('/device-groups', $gp->[-1]), $paged,
                  "groups sort=$sort: by previous");
    }
    my $a = fetch("/device-groups?projectId=$PA&sort=-name&limit=1000");
    is(scalar @{ $a->{items} }, 4, 'projectId with a sort');
    is(in_order($a->{items}, '-name'), '', 'in its order');
    is_problem([ $api->call(GET => '/device-groups?sort=size') ], 400,
               'an unknown sort field');
}

# ---- texts written as JSON strings, in a device and in a list

{
    my $odd = "q\"uote \\ back\nnew\ttab \x01 \x{e9}\x{263a} </script>";
    my $d = $api->create_device($PA, { name => $odd, description => $odd,
                                       barcode => $odd });
    is($d->{name}, $odd, 'a name with quotes, backslashes and controls');
    my $g = ($api->call(GET => "/devices/$d->{id}"))[1];
    is_deeply([ @$g{qw(name description barcode)} ], [ ($odd) x 3 ],
              'read back as written');
    my $l = fetch('/devices?q=uote&limit=1000');
    is_deeply([ map { $_->{name} } @{ $l->{items} } ], [ $odd ],
              'and in a list');
    $api->call(DELETE => "/devices/$d->{id}");
}

# ---- one registry: lists of either dialect show the other's devices

{
    my $d = $api->create_device($PA, { name => 'made in things' });
    my $l = ($col->call(GET => "/collections/$aid/devices"))[1];
    ok((grep { ($_->{tags}{name} // '') eq 'made in things' }
        @{ $l->{devices} }), 'a things device in the collections list');
    my $c = $col->create_device($aid, { tags => { name => 'made in collections' } });
    my $tl = fetch('/devices?q=made%20in&sort=name&limit=1000');
    is_deeply([ map { $_->{name} } @{ $tl->{items} } ],
              [ 'made in collections', 'made in things' ],
              'both in the things list, by name');
    $col->call(DELETE => "/collections/$aid/devices/$c->{deviceId}");
    $api->call(DELETE => "/devices/$d->{id}");
    my $gone = fetch('/devices?q=made%20in&limit=1000');
    is_deeply($gone->{items}, [], 'deleted in either: gone from the list');
    my $cl = ($col->call(GET => "/collections/$aid/devices"))[1];
    ok(!(grep { ($_->{tags}{name} // '') =~ /^made in/ } @{ $cl->{devices} }),
       'and from the collections list');
}

$t->finish;
done_testing;
