//+------------------------------------------------------------------+
//| Ea.mqh -- CCopyGatewayEa: wires the pure core (session machine,  |
//| inbox, journal, ticket map, snapshot diff) to the terminal       |
//| (files, WebRequest / ws2_32, trade functions). All decisions are |
//| taken in the core; this class pumps. Here: its life cycle (Init, |
//| OnTimer, Deinit); the rest in the files it includes.             |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_EA_MQH
#define COPYGATEWAY_EA_MQH

#include <CopyGateway/EaDeclaration.mqh>
#include <CopyGateway/EaStateFiles.mqh>
#include <CopyGateway/EaMessages.mqh>
#include <CopyGateway/EaTransport.mqh>

void CCopyGatewayEa::ShowStatus(const long now)
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
void CCopyGatewayEa::HaltIfStateNotSaved(const long now)
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

void CCopyGatewayEa::NotifyStop(void)
  {
   if(m_stop_notified)
      return;
   m_stop_notified=true;
   string reason=m_session.StopReason();
   Print("CopyGateway: stopped (",reason,"): ",CgStopAdvice(reason));
   Alert("CopyGateway: ",CgStopAdvice(reason));
  }

int CCopyGatewayEa::Init(const SEaConfig &cfg)
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

void CCopyGatewayEa::Deinit(const int reason)
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

void CCopyGatewayEa::OnTimer(void)
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

void CCopyGatewayEa::OnTick(void)
  {
   // trade detection and transport run on the timer; ticks only refresh the status
   if(m_account!="")
      ShowStatus(m_clock.NowMs());
  }

#endif
