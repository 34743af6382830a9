//+------------------------------------------------------------------+
//| Session.mqh -- the EA's session life cycle as a pure state       |
//| machine: it is told what happened (HTTP results, server          |
//| messages, the time) and answers what to do next. No I/O here.    |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_SESSION_MQH
#define COPYGATEWAY_SESSION_MQH

#include <CopyGateway/Messages.mqh>

//--- link states
#define CG_LINK_IDLE    0  // no session: create one when allowed
#define CG_LINK_OPEN    1  // a session exists (pending or authenticated)
#define CG_LINK_BACKOFF 2  // waiting before creating a new session
#define CG_LINK_STOPPED 3  // terminal: never reconnect until the EA is re-initialised

//--- what a close reason / close code asks of the client
#define CG_CLOSE_STOP            0  // preempted, key rejected/revoked, bad token
#define CG_CLOSE_RECONNECT       1  // heartbeat timeout: new session at once
#define CG_CLOSE_RECONNECT_LATER 2  // server shutdown: new session after a delay
#define CG_CLOSE_NONE            3  // we closed it ourselves

#define CG_BACKOFF_MIN_MS 1000
#define CG_BACKOFF_MAX_MS 60000

//--- The client's duty for a ShutdownNotice reason or a 410 error.code.
int CgCloseAction(const string reason)
  {
   if(reason=="preempted" || reason=="key_rejected" || reason=="key_revoked" ||
      reason=="invalid_token" || reason=="invalid_credentials")
      return(CG_CLOSE_STOP);
   if(reason=="heartbeat_timeout")
      return(CG_CLOSE_RECONNECT);
   if(reason=="client_shutdown")
      return(CG_CLOSE_NONE);
   // server_shutdown, closed_by_operator, store_unavailable and anything new
   return(CG_CLOSE_RECONNECT_LATER);
  }

//--- The client's duty for a WebSocket close code.
int CgWsCloseAction(const int code)
  {
   if(code==4001 || code==4003)
      return(CG_CLOSE_STOP);
   if(code==4002)
      return(CG_CLOSE_RECONNECT);
   return(CG_CLOSE_RECONNECT_LATER);  // 4004, 1000, 1006, 1008 (same session: OnWsClosed), 1009, ...
  }

//--- WebSocket close 1008 (policy: back off): the gateway refused an OrderIntent
//--- (`overloaded`) or a rate; the session itself stays live
#define CG_WS_CLOSE_BACK_OFF 1008

//--- A user-facing explanation of why the EA stopped.
string CgStopAdvice(const string reason)
  {
   if(reason=="preempted")
      return("another terminal started a session for this account; this EA stays idle (no fighting). Re-attach it to take over.");
   if(reason=="key_rejected" || reason=="key_revoked" || reason=="invalid_credentials")
      return("the back-office rejected or revoked this EA's key. Ask support, then set a new key and re-attach the EA.");
   if(reason=="state_not_saved")
      return("the EA cannot save its state files (MQL4\\Files\\CopyGateway); trading stopped so no trade is duplicated or orphaned. Check disk space and permissions, then re-attach the EA.");
   if(reason=="invalid_token")
      return("the server no longer accepts this session token. Re-attach the EA.");
   return("stopped: "+reason);
  }

class CSessionMachine
  {
private:
   int               m_link;            // CG_LINK_*
   string            m_session_id;      // current session id
   string            m_token;           // bearer token of the session
   string            m_state;           // pending | authenticated
   long              m_hb_interval_ms;  // heartbeat period from the server
   long              m_hb_timeout_ms;   // server's heartbeat timeout
   long              m_next_hb_ms;      // when the next heartbeat is due
   long              m_retry_at_ms;     // earliest next session creation (BACKOFF)
   long              m_exchange_at_ms;  // earliest next exchange after a failure
   int               m_failures;        // consecutive failures (backoff exponent)
   string            m_stop_reason;     // why STOPPED
   bool              m_init_acked;      // InitAck received for this session
   bool              m_needs_init;      // InitRequest not sent yet for this session
   uint              m_jitter_state;    // LCG state for backoff jitter (0 = no jitter)
   long              m_overload_ms;     // this connection was refused `overloaded`: wait this long (-1 = not)

   long              Backoff(void)
     {
      long delay=CG_BACKOFF_MIN_MS;
      for(int i=1;i<m_failures && delay<CG_BACKOFF_MAX_MS;i++)
         delay*=2;
      if(delay>CG_BACKOFF_MAX_MS)
         delay=CG_BACKOFF_MAX_MS;
      if(m_jitter_state!=0)
        {
         m_jitter_state=m_jitter_state*1103515245+12345;
         delay+=(long)((m_jitter_state>>8)%(uint)(delay/4+1));
        }
      return(delay);
     }
   void              Drop(void)
     {
      m_session_id="";
      m_token="";
      m_state="";
      m_init_acked=false;
      m_needs_init=false;
      m_overload_ms=-1;
     }

public:
                     CSessionMachine(void) { Reset(0); }
   void              Reset(const uint jitter_seed)
     {
      m_link=CG_LINK_IDLE;
      Drop();
      m_hb_interval_ms=5000;
      m_hb_timeout_ms=15000;
      m_next_hb_ms=0;
      m_retry_at_ms=0;
      m_exchange_at_ms=0;
      m_failures=0;
      m_stop_reason="";
      m_jitter_state=jitter_seed;
     }
   //--- queries
   int               Link(void) const { return(m_link); }
   bool              IsOpen(void) const { return(m_link==CG_LINK_OPEN); }
   bool              IsStopped(void) const { return(m_link==CG_LINK_STOPPED); }
   bool              IsAuthenticated(void) const { return(m_link==CG_LINK_OPEN && m_state=="authenticated"); }
   bool              InitAcked(void) const { return(m_init_acked); }
   string            SessionId(void) const { return(m_session_id); }
   string            Token(void) const { return(m_token); }
   string            State(void) const { return(m_state); }
   string            StopReason(void) const { return(m_stop_reason); }
   long              HeartbeatIntervalMs(void) const { return(m_hb_interval_ms); }
   long              RetryAtMs(void) const { return(m_retry_at_ms); }
   //--- an intent was refused on this connection: nothing more is read, write nothing more
   bool              Overloaded(void) const { return(m_overload_ms>=0); }
   bool              WantsSession(const long now) const
     {
      return(m_link==CG_LINK_IDLE || (m_link==CG_LINK_BACKOFF && now>=m_retry_at_ms));
     }
   bool              CanExchange(const long now) const { return(m_link==CG_LINK_OPEN && now>=m_exchange_at_ms); }
   bool              HeartbeatDue(const long now) const { return(m_link==CG_LINK_OPEN && now>=m_next_hb_ms); }
   //--- the InitRequest of a new session must go out first (once)
   bool              TakeInitRequest(void)
     {
      if(!m_needs_init)
         return(false);
      m_needs_init=false;
      return(true);
     }

   //--- POST /sessions answered 201
   void              OnCreated(const SSessionCreated &c,const long now)
     {
      m_link=CG_LINK_OPEN;
      m_session_id=c.session_id;
      m_token=c.session_token;
      m_state=c.state;
      if(c.heartbeat_interval_s>0)
         m_hb_interval_ms=(long)(c.heartbeat_interval_s*1000.0);
      if(c.heartbeat_timeout_s>0)
         m_hb_timeout_ms=(long)(c.heartbeat_timeout_s*1000.0);
      m_next_hb_ms=now+m_hb_interval_ms;
      m_exchange_at_ms=now;
      m_failures=0;
      m_init_acked=false;
      m_needs_init=true;
     }
   //--- POST /sessions failed: status -1 = no HTTP answer
   void              OnCreateFailed(const int status,const string error_code,const long retry_after_ms,const long now)
     {
      if(status==401 || status==403)
        {
         Stop(error_code=="" ? "invalid_credentials" : error_code);
         return;
        }
      if(status==400 || status==422)
        {
         Stop("bad_request: "+error_code);
         return;
        }
      m_failures++;
      long delay=Backoff();
      if(retry_after_ms>delay)
         delay=retry_after_ms;
      m_link=CG_LINK_BACKOFF;
      m_retry_at_ms=now+delay;
     }
   //--- the answer to one exchange (poll) request
   void              OnExchangeResult(const int status,const string error_code,const long retry_after_ms,const long now)
     {
      if(m_link!=CG_LINK_OPEN)
         return;
      if(status==200 || status==413)
        {
         // 413: the EA drops or splits what was refused; resending it unchanged would loop
         m_failures=0;
         m_exchange_at_ms=now;
         return;
        }
      if(status==410)
        {
         OnClosed(error_code,-1,now);
         return;
        }
      if(status==401 || status==403)
        {
         // our token is refused: preempted elsewhere or revoked; never fight
         Stop(error_code=="" ? "invalid_token" : error_code);
         return;
        }
      if(status==404)
        {
         // the server forgot the session (e.g. restart without a durable store)
         Drop();
         m_link=CG_LINK_IDLE;
         return;
        }
      if(status==429 && error_code=="overloaded" && retry_after_ms>0)
        {
         // an OrderIntent refused, nothing wrong with the link: the body goes again
         // (intent first) after exactly Retry-After; the server paces, no growing backoff
         m_exchange_at_ms=now+retry_after_ms;
         return;
        }
      m_failures++;
      long delay=Backoff();
      if(retry_after_ms>delay)
         delay=retry_after_ms;
      m_exchange_at_ms=now+delay;
     }
   //--- the session ended (410 reason, ShutdownNotice reason)
   void              OnClosed(const string reason,const double reconnect_after_s,const long now)
     {
      int action=CgCloseAction(reason);
      Drop();
      if(action==CG_CLOSE_STOP)
        {
         Stop(reason);
         return;
        }
      if(action==CG_CLOSE_RECONNECT)
        {
         m_link=CG_LINK_IDLE;
         return;
        }
      m_failures++;
      long delay=Backoff();
      if(reconnect_after_s>=0)
         delay=(long)(reconnect_after_s*1000.0);
      m_link=CG_LINK_BACKOFF;
      m_retry_at_ms=now+delay;
     }
   //--- WebSocket transport: ErrorAlert{overloaded, retry.after_ms} (-1 = absent);
   //--- the close 1008 that follows keeps the session and waits this long
   void              OnOverloaded(const long after_ms)
     {
      m_overload_ms=(after_ms>0 ? after_ms : CG_BACKOFF_MIN_MS);
     }
   //--- WebSocket transport: the connection closed with `code`
   void              OnWsClosed(const int code,const long now)
     {
      long overload_ms=m_overload_ms;
      m_overload_ms=-1;
      if(code==CG_WS_CLOSE_BACK_OFF && m_link==CG_LINK_OPEN)
        {
         // only the connection ended: reconnect with the same session token, no sooner
         // than the server asked (retry.after_ms), else after the growing backoff
         long delay=overload_ms;
         if(delay<0)
           {
            m_failures++;
            delay=Backoff();
           }
         m_exchange_at_ms=now+delay;
         return;
        }
      if(code==4001)
         OnClosed("preempted",-1,now);
      else if(code==4003)
         OnClosed("key_rejected",-1,now);
      else if(code==4002)
         OnClosed("heartbeat_timeout",-1,now);
      else
         OnClosed("server_shutdown",-1,now);
     }
   void              OnStateChange(const string state)
     {
      if(m_link==CG_LINK_OPEN && (state=="pending" || state=="authenticated"))
         m_state=state;
     }
   void              OnInitAck(const double heartbeat_interval_s,const double heartbeat_timeout_s,const long now)
     {
      m_init_acked=true;
      m_failures=0;  // a working connection: the next failure backs off from the start
      m_state="authenticated";
      if(heartbeat_interval_s>0)
         m_hb_interval_ms=(long)(heartbeat_interval_s*1000.0);
      if(heartbeat_timeout_s>0)
         m_hb_timeout_ms=(long)(heartbeat_timeout_s*1000.0);
      if(m_next_hb_ms>now+m_hb_interval_ms)
         m_next_hb_ms=now+m_hb_interval_ms;
     }
   void              HeartbeatSent(const long now) { m_next_hb_ms=now+m_hb_interval_ms; }
   void              Stop(const string reason)
     {
      Drop();
      m_link=CG_LINK_STOPPED;
      m_stop_reason=reason;
     }
   //--- deliberate close by the EA (OnDeinit)
   void              Closed(void)
     {
      Drop();
      m_link=CG_LINK_IDLE;
     }
  };

#endif
