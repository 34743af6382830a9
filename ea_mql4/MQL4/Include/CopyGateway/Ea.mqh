//+------------------------------------------------------------------+
//| Ea.mqh -- CCopyGatewayEa: wires the pure core (session machine,  |
//| inbox, journal, ticket map, snapshot diff) to the terminal       |
//| (files, WebRequest / ws2_32, trade functions). All decisions are |
//| taken in the core; this class pumps.                             |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_EA_MQH
#define COPYGATEWAY_EA_MQH

#include <CopyGateway/Platform.mqh>
#include <CopyGateway/Http.mqh>
#include <CopyGateway/WsTransport.mqh>
#include <CopyGateway/Master.mqh>
#include <CopyGateway/Follower.mqh>

enum ENUM_CG_ROLE
  {
   CG_ROLE_MASTER=0,    // Master (publishes its trades)
   CG_ROLE_FOLLOWER=1   // Follower (executes copied trades)
  };

enum ENUM_CG_TRANSPORT
  {
   CG_TRANSPORT_POLL=0, // HTTPS poll via WebRequest (default)
   CG_TRANSPORT_WS=1    // WebSocket via ws2_32.dll (DLL build only, ws:// only)
  };

#define CG_MAX_BATCH     200    // envelopes per exchange request
#define CG_MAX_MESSAGE_BYTES 60000  // one envelope; the gateway refuses > 64 KiB (1009 / payload_too_large)
#define CG_MAX_BODY_BYTES 524288    // one exchange body; the gateway answers 413 beyond 1 MiB
#define CG_MAX_OUTBOX    5000   // queued envelopes kept while offline
#define CG_STATUS_MS     1000   // chart status refresh
#define CG_TICK_SLEEP_MS 500    // trade retries sleep at most this long per timer tick
                                // (and at most a quarter of the heartbeat interval)

struct SEaConfig
  {
   string            server_url;        // https://host (no trailing slash)
   int               role;              // ENUM_CG_ROLE
   string            account_id;        // "" = AccountNumber()
   string            preshared_key;     // "" = generated key file
   int               transport;         // ENUM_CG_TRANSPORT
   string            ws_url;            // ws://127.0.0.1:port/ea-gateway/v1/stream
   int               timer_ms;          // EventSetMillisecondTimer period
   int               poll_wait_ms;      // follower: server hold per poll
   int               idle_poll_ms;      // master: poll period when idle
   int               http_timeout_ms;   // WebRequest timeout (plus the hold)
   int               magic;             // magic of the follower's orders
   int               master_magic_filter; // master: -1 = every order
   double            slippage_pips;     // follower default slippage
   double            max_lots;          // follower: per order, 0 = off
   int               max_open;          // follower: open+pending, 0 = off
   string            allowed_symbols;   // comma list, "" = all
   bool              kill_switch;       // follower: no new openings
   int               max_retries;       // trade retries
   int               freeze_wait_s;     // how long a close/modify/cancel waits out FREEZELEVEL
   bool              use_os_random;     // mix RtlGenRandom into a generated key (DLL)
  };

class CCopyGatewayEa
  {
private:
   SEaConfig         m_cfg;             // inputs
   CClock            m_clock;           // epoch ms
   CFileStore        m_store;           // MQL4/Files/CopyGateway/<CgAccountFolder(account)>/
   CKeyStore         m_keys;            // session key
   CHttpClient       m_http;            // WebRequest
   CWsTransport      m_ws;              // optional WebSocket
   CSessionMachine   m_session;         // life cycle
   CInbox            m_inbox;           // server->EA routing + ack_seq
   CCommandJournal   m_journal;         // command-id dedup with stored reports
   CTicketMap        m_tickets;         // master->follower tickets
   CSafetyPolicy     m_safety;          // follower limits
   CMasterTracker    m_master;          // master snapshot diff
   CTradeExecutor    m_exec;            // follower trade execution
   string            m_account;         // account id on the wire
   string            m_key;             // session key
   COutbox           m_outbox;          // envelopes waiting for delivery, unconfirmed reports
   string            m_launch;          // per-launch id prefix
   long              m_counter;         // id counter
   long              m_next_poll_ms;    // next idle poll
   int               m_batch_limit;     // envelopes per exchange body (1 after a 413)
   long              m_next_status_ms;  // next chart status refresh
   long              m_saved_ack;       // ack_seq stored in state.json
   bool              m_snapshot_due;    // send a SyncSnapshot once InitAck arrived
   int               m_snapshot_parts;  // parts the gateway assembles (InitAck), 0 = whole only
   bool              m_stop_notified;   // the stop alert was shown
   bool              m_ws_was_open;     // WebSocket connected at least once this session
   CMessageBacklog   m_backlog;         // routed server messages not yet handled, in order
   string            m_saved_master;    // master.json as last written

   bool              IsMaster(void) const { return(m_cfg.role==CG_ROLE_MASTER); }
   string            NextId(void)
     {
      m_counter++;
      return("ea-"+m_launch+"-"+IntegerToString(m_counter));
     }
   //--- false (and an alert on the chart and to the server) when the gateway would
   //--- refuse `json` for its size: such a message is dropped, never retried
   bool              FitsTheWire(const string json)
     {
      int bytes=CgUtf8Bytes(json);
      if(bytes<=CG_MAX_MESSAGE_BYTES)
         return(true);
      string type=CgEnvelopeType(json);
      string text="CopyGateway: "+type+" of "+IntegerToString(bytes)+" bytes exceeds the gateway's size limit; dropped";
      Alert(text);
      Comment(text);
      QueueAlert("payload_too_large","error",type+" of "+IntegerToString(bytes)+" bytes dropped","");
      return(false);
     }
   void              Queue(const string json)
     {
      if(!FitsTheWire(json))
         return;
      if(m_outbox.Add(json))
         SaveOutbox();
     }
   void              QueueFront(const string json)
     {
      if(FitsTheWire(json))
         m_outbox.AddFront(json);
     }
   //--- how many outbox messages the next exchange body carries (count and bytes capped)
   int               BatchSize(void)
     {
      int limit=(int)MathMin(m_outbox.Count(),m_batch_limit);
      int bytes=0;
      for(int i=0;i<limit;i++)
        {
         bytes+=CgUtf8Bytes(m_outbox.At(i))+1;
         if(i>0 && bytes>CG_MAX_BODY_BYTES)
            return(i);
        }
      return(limit);
     }
   //--- the first `count` messages were delivered (poll: the 200 confirms its body)
   void              RemoveFront(const int count)
     {
      if(m_outbox.RemoveFront(count))
         SaveOutbox();
     }
   //--- WebSocket: write what is queued; a written report waits for its Receipt
   int               WriteQueued(void)
     {
      int sent=0;
      while(sent<m_outbox.Count() && m_ws.SendText(m_outbox.At(sent)))
        {
         m_outbox.Written(sent);
         sent++;
        }
      RemoveFront(sent);
      return(sent);
     }
   string            Url(const string path) const { return(m_cfg.server_url+path); }

   //--- persistence ----------------------------------------------
   void              SaveState(const long ack)
     {
      CJsonWriter w;
      w.BeginObject();
      w.KeyInt("v",1);
      w.KeyStr("account_id",m_account);
      w.KeyInt("ack_seq",ack);
      w.EndObject();
      if(m_store.Write("state.json",w.Text()))
         m_saved_ack=ack;
     }
   long              LoadAck(void)
     {
      string text;
      long ack=0;
      CJsonDoc doc;
      if(m_store.Read("state.json",text) && doc.Parse(text))
         doc.GetLong(doc.Root(),"ack_seq",ack);
      return(ack);
     }
   //--- ExecutionReports / OrderIntents not yet confirmed (queued, or written
   //--- without a Receipt), loaded at start, so a crash or a dropped socket loses
   //--- none: a follower's outbox.json; a master keeps them in master.json with
   //--- the order view they came from (one atomic write: a restart neither loses
   //--- an intent nor derives it again under a new id)
   void              SaveOutbox(void)
     {
      if(m_account=="")
         return;
      if(IsMaster())
         SaveMaster();
      else
         m_store.Write("outbox.json",m_outbox.Serialize());
     }
   void              SaveMaster(void)
     {
      string text=m_master.Serialize(m_outbox.Serialize());
      if(text!=m_saved_master && m_store.Write("master.json",text))
         m_saved_master=text;
     }
   void              LoadOutbox(void)
     {
      string text;
      if(IsMaster())
        {
         CJsonDoc doc;
         if(m_store.Read("master.json",text) && doc.Parse(text) && doc.Kind(doc.Find(doc.Root(),"outbox"))==JSON_OBJECT &&
            !m_outbox.Load(doc.RawText(doc.Find(doc.Root(),"outbox"))))
            Print("CopyGateway: the unconfirmed intents in master.json are unreadable");
         return;
        }
      if(m_store.Read("outbox.json",text) && !m_outbox.Load(text))
         Print("CopyGateway: outbox.json is unreadable; unconfirmed reports come again with their commands");
     }
   //--- tickets first: a crash between the two leaves the journal's in-flight
   //--- marker, and the command tag finds the order again
   void              SaveFollower(void)
     {
      m_store.Write("tickets.json",m_tickets.Serialize());
      m_store.Write("journal.json",m_journal.Serialize());
     }
   //--- everything up to `ack` was delivered
   void              OnDelivered(const long ack)
     {
      if(ack!=m_saved_ack)
         SaveState(ack);
     }

   //--- messages ---------------------------------------------------
   void              QueueInitRequest(void)
     {
      SAccountInfo a;
      SSymbolSpec symbols[];
      CgReadAccount(a);
      CgReadSymbols(symbols,m_safety);
      QueueFront(CgEncodeInitRequest(NextId(),m_clock.NowMs(),m_inbox.AckSeq(),a,symbols,
                                     m_cfg.transport==CG_TRANSPORT_WS));
     }
   //--- a snapshot that fits one message goes whole (as to any gateway); a larger
   //--- one in parts of CG_SNAPSHOT_PART_BYTES when the gateway assembles parts
   //--- (InitAck.max_snapshot_parts), else it is dropped with an alert (FitsTheWire)
   void              QueueSnapshot(const string request_id)
     {
      SAccountInfo a;
      SOrderRow rows[];
      CgReadAccount(a);
      if(IsMaster())
         CgReadRows(rows,m_cfg.master_magic_filter,m_safety);
      else
         CgReadRows(rows,m_cfg.magic,m_safety);
      long now=m_clock.NowMs();
      string whole=CgEncodeSyncSnapshot(NextId(),now,rows,a,request_id);
      if(m_snapshot_parts<=0 || CgUtf8Bytes(whole)<=CG_MAX_MESSAGE_BYTES)
        {
         Queue(whole);
         return;
        }
      SOrderRow ordered[];
      int starts[];
      CgSnapshotWireOrder(rows,ordered);
      int parts=CgPlanSnapshotParts(ordered,CG_SNAPSHOT_PART_BYTES,starts);
      if(parts>m_snapshot_parts)
        {
         string text="CopyGateway: a SyncSnapshot of "+IntegerToString(ArraySize(rows))+" orders needs "+
                     IntegerToString(parts)+" parts, the gateway takes at most "+IntegerToString(m_snapshot_parts)+"; dropped";
         Alert(text);
         Comment(text);
         QueueAlert("payload_too_large","error","SyncSnapshot of "+IntegerToString(parts)+" parts dropped","");
         return;
        }
      string snapshot_id=NextId();
      for(int k=0;k<parts;k++)
        {
         int to=(k+1<parts ? starts[k+1] : ArraySize(ordered));
         Queue(CgEncodeSnapshotRange(NextId(),now,ordered,starts[k],to,a,request_id,snapshot_id,k+1,parts));
        }
      Print("CopyGateway: SyncSnapshot of ",ArraySize(rows)," orders sent in ",parts," parts (",snapshot_id,")");
     }
   void              QueueHeartbeat(void)
     {
      SAccountInfo a;
      CgReadAccount(a);
      Queue(CgEncodeHeartbeat(NextId(),m_clock.NowMs(),m_inbox.AckSeq(),a));
     }
   void              QueueAlert(const string code,const string severity,const string message,const string ref_id)
     {
      Queue(CgEncodeErrorAlert(NextId(),m_clock.NowMs(),code,severity,message,ref_id));
     }

   //--- false when the command waits for a later tick (a deferred retry)
   bool              HandleCommand(const SServerMessage &m,const long now)
     {
      if(IsMaster())
        {
         QueueAlert("not_a_follower","error","this EA runs in master mode; OrderCommand "+m.command.command_id+" ignored",m.id);
         return(true);
        }
      string stored;
      if(m_journal.Find(m.command.command_id,stored) && stored!="")
        {
         Queue(stored);  // duplicate delivery: answer again, never trade twice
         return(true);
        }
      SExecutionReport r;
      bool resumed=(m.command.command_id==m_exec.Command());
      m_exec.BeginCommand(m.command.command_id);
      bool in_flight=(m_journal.Find(m.command.command_id,stored) && stored=="");
      bool opening=(m.command.action=="open" || m.command.action=="place_pending");
      int done=(in_flight && opening ? m_exec.FindCommandOrder(m.command) : 0);
      bool finished=false;
      if(done>0)
        {
         // OrderSend went through before a crash (or before a deferred retry, e.g.
         // after a timeout): the command tag in the comment finds the order
         if(!resumed)
            Print("CopyGateway: command ",m.command.command_id," was already executed as #",done," before a restart");
         finished=m_exec.Recover(m.command,done,now,r);
         m_tickets.Set(m.command.master_account_id,m.command.master_ticket,done,m.command.symbol);
        }
      else
        {
         if(!in_flight)
           {
            m_journal.Add(m.command.command_id,"");  // in-flight marker
            if(!m_store.Write("journal.json",m_journal.Serialize()))
               return(false);  // never trade what could not be marked: OnTimer stops the EA
           }
         finished=m_exec.Execute(m.command,now,m_safety,m_tickets,r);
        }
      if(!finished)
        {
         // a retry waits for a later tick: heartbeats and transport go on meanwhile
         m_backlog.WaitUntil(now+m_exec.RetryAfterMs());
         m_store.Write("tickets.json",m_tickets.Serialize());
         if(!resumed)
            Print("CopyGateway: ",m.command.action," ",m.command.symbol," (master #",m.command.master_ticket,") waits: error ",
                  m_exec.LastError(),(m_exec.LastError()==ERR_TRADE_MODIFY_DENIED ? " (within the freeze level)" : ""),
                  ", retrying on a later tick");
         return(false);
        }
      string report=CgEncodeExecutionReport(NextId(),m_clock.NowMs(),r);
      m_journal.Add(m.command.command_id,report);
      SaveFollower();
      Queue(report);
      Print("CopyGateway: ",m.command.action," ",m.command.symbol," (master #",m.command.master_ticket,") -> ",r.status,
            (r.has_error_code ? " error "+IntegerToString(r.error_code) : ""),
            (r.error_message!="" ? " ("+r.error_message+")" : ""));
      return(true);
     }
   //--- false when `m` must be handled again later (a deferred trade)
   bool              Handle(const SServerMessage &m,const long now)
     {
      switch(m.kind)
        {
         case CG_MSG_INVALID:
            Print("CopyGateway: dropped an invalid server message ",m.id,": ",m.error);
            QueueAlert("invalid_message","warning",m.error,m.id);
            break;
         case CG_MSG_INIT_ACK:
           {
            m_session.OnInitAck(m.heartbeat_interval_s,m.heartbeat_timeout_s,now);
            Print("CopyGateway: session ready (role ",(m.role=="" ? "unassigned" : m.role),", heartbeat ",
                  DoubleToString(m.heartbeat_interval_s,1)," s)");
            string mine=(IsMaster() ? "master" : "follower");
            if((m.role=="master" || m.role=="follower") && m.role!=mine)
              {
               QueueAlert("role_mismatch","error","EA runs as "+mine+" but the account is a "+m.role,m.id);
               Alert("CopyGateway: the gateway says this account is a ",m.role,", but InpRole is ",mine,". Fix InpRole.");
              }
            m_snapshot_parts=(m.max_snapshot_parts>1000 ? 1000 : (int)m.max_snapshot_parts);
            m_snapshot_due=true;
            break;
           }
         case CG_MSG_STATE_CHANGE:
            if(m.state=="closed")
               m_session.OnClosed(m.reason,-1,now);
            else
               m_session.OnStateChange(m.state);
            break;
         case CG_MSG_ORDER_COMMAND:
            return(HandleCommand(m,now));
         case CG_MSG_SNAPSHOT_REQUEST:
            QueueSnapshot(m.request_id);
            break;
         case CG_MSG_ERROR_ALERT:
            Print("CopyGateway: server ",m.severity," ",m.code,": ",m.message);
            if(m.severity=="critical")
               Alert("CopyGateway: ",m.message);
            break;
         case CG_MSG_RECEIPT:
            if(m_outbox.Confirm(m.receipt_ids))
               SaveOutbox();
            break;
         case CG_MSG_SHUTDOWN:
            Print("CopyGateway: server closes the session: ",m.reason);
            m_session.OnClosed(m.reason,m.reconnect_after_s,now);
            break;
        }
      return(true);
     }
   //--- new server messages join the backlog behind the ones still waiting
   void              Enqueue(const SServerMessage &msgs[])
     {
      // a Receipt takes effect at once, also behind a deferred trade (confirming
      // twice is harmless); it is acknowledged in order like every message
      for(int i=0;i<ArraySize(msgs);i++)
         if(msgs[i].kind==CG_MSG_RECEIPT && m_outbox.Confirm(msgs[i].receipt_ids))
            SaveOutbox();
      m_backlog.Add(msgs);
     }
   //--- handle waiting messages in order; a deferred trade holds the rest (and
   //--- ack_seq) back until its retry on a later tick
   void              ProcessPending(const long now)
     {
      while(m_backlog.Ready(now))
        {
         if(!m_session.IsOpen() || m_store.Failure()!="")
            break;  // closed/stopped, or state no longer saved: not ours to act on now
         SServerMessage m;
         m_backlog.First(m);
         if(!Handle(m,now))
            break;
         m_inbox.MarkProcessed(m);
         m_backlog.RemoveFirst();
        }
     }

   //--- session creation -----------------------------------------
   void              CreateSession(const long now)
     {
      string response;
      long retry_after=-1;
      m_http.SetTimeout(m_cfg.http_timeout_ms);
      int status=m_http.Request("POST",Url("/ea-gateway/v1/sessions"),"",
                                CgEncodeSessionCreate(m_account,m_key,TerminalInfoInteger(TERMINAL_BUILD)),
                                response,retry_after);
      SSessionCreated created;
      if(status==201 && CgDecodeSessionCreated(response,created))
        {
         m_session.OnCreated(created,now);
         m_ws_was_open=false;
         Print("CopyGateway: session ",created.session_id," is ",created.state);
         if(created.state=="pending")
            Print("CopyGateway: waiting for the back-office to approve this EA's key (account ",m_account,")");
         return;
        }
      string code,message;
      CgDecodeErrorBody(response,code,message);
      if(status==-1)
         Print("CopyGateway: gateway unreachable (error ",m_http.LastError(),")");
      else
         Print("CopyGateway: session refused: HTTP ",status," ",code," ",message);
      m_session.OnCreateFailed(status,code,retry_after,now);
     }

   //--- a 413: send one message per body; a lone message refused is dropped, never retried
   void              OnBodyTooLarge(const int n)
     {
      m_batch_limit=1;
      if(n!=1)
         return;
      string type=CgEnvelopeType(m_outbox.At(0));
      RemoveFront(1);
      string text="CopyGateway: the gateway refused a "+type+" for its size (HTTP 413); dropped";
      Alert(text);
      Comment(text);
      QueueAlert("payload_too_large","error",type+" refused with HTTP 413 and dropped","");
     }

   //--- poll transport ---------------------------------------------
   void              PumpPoll(const long now)
     {
      if(!m_session.CanExchange(now))
         return;
      int n=BatchSize();
      if(n==0 && now<m_next_poll_ms)
         return;
      // while a deferred trade holds the queue the server re-sends what is above
      // ack_seq at once: poll at the idle period then, without a hold
      bool waiting=(m_backlog.Count()>0);
      int wait=(n==0 && !IsMaster() && !waiting ? m_cfg.poll_wait_ms : 0);
      long ack=m_inbox.AckSeq();
      string url=Url("/ea-gateway/v1/sessions/"+m_session.SessionId()+"/exchange");
      string response;
      long retry_after=-1;
      m_http.SetTimeout(m_cfg.http_timeout_ms+wait);
      int status=m_http.Request("POST",url,m_session.Token(),m_outbox.Exchange(n,ack,wait),response,retry_after);
      string code,message;
      if(status!=200)
        {
         CgDecodeErrorBody(response,code,message);
         if(status==413)
            OnBodyTooLarge(n);
         if(status==-1)
            Print("CopyGateway: exchange failed (error ",m_http.LastError(),")");
         else
            Print("CopyGateway: exchange answered HTTP ",status," ",code);
         m_session.OnExchangeResult(status,code,retry_after,now);
         return;
        }
      m_session.OnExchangeResult(200,"",-1,now);
      m_batch_limit=CG_MAX_BATCH;
      RemoveFront(n);
      OnDelivered(ack);
      m_next_poll_ms=now+(IsMaster() || waiting ? m_cfg.idle_poll_ms : 0);
      CJsonDoc doc;
      if(!doc.Parse(response))
        {
         Print("CopyGateway: unreadable exchange answer: ",doc.Error());
         return;
        }
      string state;
      if(doc.GetString(doc.Root(),"state",state))
         m_session.OnStateChange(state);
      SServerMessage msgs[];
      m_inbox.Route(doc,doc.Find(doc.Root(),"messages"),msgs);
      Enqueue(msgs);
     }

   //--- WebSocket transport ----------------------------------------
   void              PumpWs(const long now)
     {
      if(!m_ws.IsOpen())
        {
         if(m_ws_was_open)
           {
            int code=m_ws.CloseCode();
            Print("CopyGateway: WebSocket closed (",code,") ",m_ws.Error());
            m_ws_was_open=false;
            m_session.OnWsClosed(code,now);
            return;
           }
         if(!m_session.CanExchange(now))
            return;
         if(!m_ws.Connect(m_cfg.ws_url,m_session.Token(),m_cfg.http_timeout_ms))
           {
            Print("CopyGateway: WebSocket connect failed: ",m_ws.Error());
            if(m_ws.CloseCode()==4003)
               m_session.OnExchangeResult(401,"invalid_token",-1,now);
            else
               m_session.OnExchangeResult(-1,"",-1,now);
            return;
           }
         m_ws_was_open=true;
         m_outbox.RequeueUnconfirmed();
         QueueInitRequest();  // every connection starts with InitRequest{ack_seq, receipts}
        }
      long ack=m_inbox.AckSeq();
      if(WriteQueued()>0)
         OnDelivered(ack);
      string texts[];
      m_ws.Poll(texts);
      for(int i=0;i<ArraySize(texts);i++)
        {
         CJsonDoc doc;
         SServerMessage msgs[];
         if(!doc.Parse(texts[i]))
           {
            QueueAlert("malformed_json","warning","unreadable frame: "+doc.Error(),"");
            continue;
           }
         m_inbox.RouteOne(doc,doc.Root(),msgs);
         Enqueue(msgs);
        }
     }

   //--- Everything that depends on the account: files, key, saved state.
   void              AttachAccount(void)
     {
      m_account=(m_cfg.account_id!="" ? m_cfg.account_id : IntegerToString(AccountNumber()));
      m_store.Init("CopyGateway\\"+CgAccountFolder(m_account));
      bool generated=false;
      m_key=m_keys.LoadOrCreate(m_store,m_cfg.preshared_key,m_cfg.use_os_random,generated);
      if(generated)
         Print("CopyGateway: generated a new session key (",m_store.Path("session.key"),"); it needs back-office approval");
      uchar seed[],digest[],none[];
      StringToCharArray(m_key+IntegerToString((long)GetMicrosecondCount())+IntegerToString(m_clock.NowMs()),seed,0,WHOLE_ARRAY,CP_UTF8);
      CryptEncode(CRYPT_HASH_SHA256,seed,none,digest);
      ArrayResize(digest,4);
      m_launch=CgHex(digest);
      MathSrand((int)((digest[0]<<24)|(digest[1]<<16)|(digest[2]<<8)|digest[3]));
      m_session.Reset((uint)((digest[1]<<16)|(digest[2]<<8)|digest[3])|1);
      long ack=LoadAck();
      m_saved_ack=ack;
      m_inbox.Init(ack);
      string text;
      m_journal.Clear();
      m_tickets.Clear();
      if(m_store.Read("journal.json",text))
         m_journal.Load(text);
      if(m_store.Read("tickets.json",text))
         m_tickets.Load(text);
      m_master.Reset();
      m_saved_master="";
      if(IsMaster() && m_store.Read("master.json",text) && m_master.Load(text))
         m_saved_master=text;
      LoadOutbox();
      Print("CopyGateway: account ",m_account,", last seq ",ack);
     }

   void              ShowStatus(const long now)
     {
      if(now<m_next_status_ms)
         return;
      m_next_status_ms=now+CG_STATUS_MS;
      string link="connecting";
      if(m_session.IsStopped())
         link="STOPPED: "+m_session.StopReason();
      else if(m_session.IsOpen())
         link=m_session.State();
      else if(m_session.Link()==CG_LINK_BACKOFF)
         link="retrying in "+IntegerToString((m_session.RetryAtMs()-now)/1000)+" s";
      Comment("CopyGateway ",(IsMaster() ? "master" : "follower")," | account ",m_account," | ",link,
              " | seq ",m_inbox.AckSeq()," | queued ",m_outbox.Count(),
              (m_safety.KillSwitch() ? " | KILL SWITCH ON" : ""));
     }
   //--- a state file could not be written: tell the server (one last
   //--- exchange), then stop trading; the chart alert comes from NotifyStop
   void              HaltIfStateNotSaved(const long now)
     {
      string failure=m_store.Failure();
      if(failure=="" || m_session.IsStopped())
         return;
      Print("CopyGateway: cannot save its state: ",failure);
      if(m_session.IsOpen())
        {
         QueueAlert("state_not_saved","critical","the EA cannot save its state: "+failure+"; it stops trading","");
         if(m_cfg.transport==CG_TRANSPORT_WS)
            PumpWs(now);
         else
            PumpPoll(now);
        }
      m_session.Stop("state_not_saved");
     }
   void              NotifyStop(void)
     {
      if(m_stop_notified)
         return;
      m_stop_notified=true;
      string reason=m_session.StopReason();
      Print("CopyGateway: stopped (",reason,"): ",CgStopAdvice(reason));
      Alert("CopyGateway: ",CgStopAdvice(reason));
     }

public:
                     CCopyGatewayEa(void) : m_counter(0),m_next_poll_ms(0),m_batch_limit(CG_MAX_BATCH),m_next_status_ms(0),m_saved_ack(-1),
                     m_snapshot_due(false),m_snapshot_parts(0),m_stop_notified(false),m_ws_was_open(false) {}

   int               Init(const SEaConfig &cfg)
     {
      m_cfg=cfg;
      if(IsTesting())
        {
         Print("CopyGateway: WebRequest does not work in the Strategy Tester");
         return(INIT_FAILED);
        }
      if(StringSubstr(m_cfg.server_url,StringLen(m_cfg.server_url)-1)=="/")
         m_cfg.server_url=StringSubstr(m_cfg.server_url,0,StringLen(m_cfg.server_url)-1);
#ifndef COPYGATE_WITH_DLL
      if(m_cfg.transport==CG_TRANSPORT_WS)
        {
         Alert("CopyGateway: this build imports no DLL and has no WebSocket transport; use the poll transport, ",
               "or compile the EA with #define COPYGATE_WITH_DLL");
         return(INIT_PARAMETERS_INCORRECT);
        }
#endif
      if(m_cfg.transport==CG_TRANSPORT_WS && !IsDllsAllowed())
        {
         Alert("CopyGateway: the WebSocket transport needs 'Allow DLL imports'");
         return(INIT_PARAMETERS_INCORRECT);
        }
      m_safety.Configure(m_cfg.max_lots,m_cfg.max_open,m_cfg.allowed_symbols,m_cfg.kill_switch);
      m_exec.Init(m_cfg.magic,m_cfg.slippage_pips,m_cfg.max_retries,m_cfg.freeze_wait_s*1000);
      m_master.Init(m_cfg.master_magic_filter);
      m_stop_notified=false;
      m_snapshot_due=false;
      m_ws_was_open=false;
      m_next_poll_ms=0;
      m_account="";
      m_session.Reset(0);
      m_outbox.Clear();
      m_outbox.SetCapacity(CG_MAX_OUTBOX);
      m_backlog.Clear();
      if(m_cfg.account_id!="" || AccountNumber()!=0)
         AttachAccount();
      else
         Print("CopyGateway: waiting for the terminal to log in to an account");
      if(!EventSetMillisecondTimer(m_cfg.timer_ms))
        {
         Print("CopyGateway: EventSetMillisecondTimer failed");
         return(INIT_FAILED);
        }
      Print("CopyGateway ",CG_EA_VERSION," started as ",(IsMaster() ? "master" : "follower"));
      return(INIT_SUCCEEDED);
     }

   void              Deinit(const int reason)
     {
      EventKillTimer();
      if(!IsMaster() && m_account!="")
         SaveFollower();  // first: MT4 gives OnDeinit ~2.5 s, the network may take all of it
      if(m_session.IsOpen())
        {
         long now=m_clock.NowMs();
         Queue(CgEncodeShutdownNotice(NextId(),now,"client_shutdown"));
         string response;
         long retry_after=-1;
         long ack=m_inbox.AckSeq();
         m_http.SetTimeout(1000);  // OnDeinit must finish within ~2.5 s
         if(m_cfg.transport==CG_TRANSPORT_POLL)
           {
            int n=(int)MathMin(m_outbox.Count(),CG_MAX_BATCH);
            string url=Url("/ea-gateway/v1/sessions/"+m_session.SessionId()+"/exchange");
            if(m_http.Request("POST",url,m_session.Token(),m_outbox.Exchange(n,ack,0),response,retry_after)==200)
              {
               RemoveFront(n);
               OnDelivered(ack);
              }
           }
         else
           {
            WriteQueued();
            SaveOutbox();  // written, unconfirmed reports go again at the next start
            m_ws.Shutdown(1000);
           }
         // WebRequest knows GET/POST/HEAD only: the POST form of DELETE /sessions/{id}
         m_http.Request("POST",Url("/ea-gateway/v1/sessions/"+m_session.SessionId()+"/close"),m_session.Token(),"",response,retry_after);
         m_session.Closed();
        }
      Comment("");
      Print("CopyGateway: stopped (deinit reason ",reason,")");
     }

   void              OnTimer(void)
     {
      long now=m_clock.NowMs();
      if(m_account=="")
        {
         if(AccountNumber()==0)
            return;  // not logged in yet
         AttachAccount();
        }
      ShowStatus(now);
      // trade retries may sleep this long in this tick, no more (the rest waits for later ticks)
      long budget=m_session.HeartbeatIntervalMs()/4;
      if(budget<=0 || budget>CG_TICK_SLEEP_MS)
         budget=CG_TICK_SLEEP_MS;
      m_exec.BeginTick((int)budget);
      HaltIfStateNotSaved(now);
      if(m_session.IsStopped())
        {
         NotifyStop();
         return;
        }
      if(m_session.WantsSession(now))
         CreateSession(now);
      if(!m_session.IsOpen())
         return;
      if(IsMaster())
        {
         SOrderIntent intents[];
         int n=m_master.Scan(m_safety,intents);
         for(int i=0;i<n;i++)
           {
            string json=CgEncodeOrderIntent(NextId(),now,intents[i]);
            if(FitsTheWire(json))
               m_outbox.Add(json);
           }
         if(n>0 || m_master.Changed())
            SaveMaster();  // the new view and its intents, in one write
        }
      if(m_session.TakeInitRequest() && m_cfg.transport==CG_TRANSPORT_POLL)
         QueueInitRequest();
      if(m_session.HeartbeatDue(now))
        {
         QueueHeartbeat();
         m_session.HeartbeatSent(now);
        }
      if(m_snapshot_due && m_session.InitAcked())
        {
         m_snapshot_due=false;
         QueueSnapshot("");
        }
      if(m_cfg.transport==CG_TRANSPORT_WS)
         PumpWs(now);
      else
         PumpPoll(now);
      ProcessPending(m_clock.NowMs());
      HaltIfStateNotSaved(now);
      if(m_session.IsStopped())
         NotifyStop();
     }

   void              OnTick(void)
     {
      // trade detection and transport run on the timer; ticks only refresh the status
      if(m_account!="")
         ShowStatus(m_clock.NowMs());
     }
  };

#endif
