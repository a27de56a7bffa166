package IoT::Client;

# What every dialect client shares: a request helper on top of the
# harness's raw IoT::Test::http (credential headers, body encoding, body
# decoding), the same answer as a hashref with the worker that gave it, and
# the cross-worker repeats.  Used as it is, it is a plain JSON client with
# no credentials (00-harness.t on plain nginx).  A dialect is a subclass
# that overrides the hooks below and adds its own error check and creation
# helpers (IoT::Collections).  See t/README.md.
#
#   my $c = IoT::Client->new($t);            # $t: an IoT::Test
#   my ($status, $body, $headers, $raw) = $c->call(GET => '/');
#   my $r = $c->req(GET => '/');             # {status,json,headers,raw,worker}

use strict;
use warnings;

use IoT::JSON qw(json_encode json_decode);

# $t: the IoT::Test whose nginx the client talks to
#   token  => the credential sent when a call names none (default: the
#             harness's admin token, read at each call, so it follows
#             restarts)
#   prefix => a path put before every path (where the dialect is mounted)
sub new {
    my ($class, $t, %o) = @_;
    die "$class->new: an IoT::Test first\n"
        unless ref $t && $t->isa('IoT::Test');
    return bless { prefix => '', %o, t => $t }, $class;
}

sub t { $_[0]{t} }

# ------------------------------------------------------------ dialect hooks

# the credential of a call that names none
sub default_token {
    my ($self) = @_;
    return exists $self->{token} ? $self->{token} : $self->{t}->admin_token;
}

# the headers that carry a (defined) credential; none in plain JSON
sub auth_headers { return () }

# the Content-Type of a request body
sub content_type { 'application/json' }

# a request body: references are encoded, strings sent as they are
sub encode_body {
    my ($self, $body) = @_;
    return ref $body ? json_encode($body) : $body;
}

# the answer's body: its JSON value, undef if empty or not JSON
sub decode_body {
    my ($self, $raw) = @_;
    return length $raw ? json_decode($raw) : undef;
}

# ------------------------------------------------------------ requests

# ($status, $decoded_body_or_undef, $headers, $raw_body)
#   body    => a reference (encoded by encode_body) or a raw string
#   token   => the credential (default: default_token; undef: none sent)
#   headers => extra headers (they win over the client's own)
sub call {
    my ($self, $method, $path, %o) = @_;
    my %h;
    my $tok = exists $o{token} ? $o{token} : $self->default_token;
    %h = $self->auth_headers($tok) if defined $tok;
    my @body;
    if (exists $o{body}) {
        @body = (body => $self->encode_body($o{body}));
        $h{'Content-Type'} = $self->content_type;
    }
    %h = (%h, %{ $o{headers} }) if $o{headers};

    my ($st, $headers, $raw) = $self->{t}->http($method,
        $self->{prefix} . $path, headers => \%h, @body);
    return ($st, $self->decode_body($raw), $headers, $raw);
}

# the same as a hashref: {status, json, headers, raw, worker}
sub req {
    my $self = shift;
    my ($st, $j, $h, $raw) = $self->call(@_);
    return { status => $st, json => $j, headers => $h, raw => $raw,
             worker => $self->{t}->worker_of($h) };
}

# repeat a request until a worker other than $pid answers it; returns that
# answer as req does (or undef after many tries)
sub req_other_worker {
    my ($self, $pid, @args) = @_;
    return $self->{t}->from_other_worker($pid, sub { $self->req(@args) });
}

# repeat a request until every current worker answered it at least once;
# returns { pid => [answers as req gives them...] }
sub req_all_workers {
    my ($self, @args) = @_;
    return $self->{t}->from_every_worker(sub { $self->req(@args) });
}

1;
